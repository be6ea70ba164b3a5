import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type {
  GangSpec,
  Job,
  JobStateName,
  MemberCounts,
  OnClusterLostPolicy,
  StoredExplanation,
} from './job.domain';

@Entity({ name: 'jobs' })
@Index('jobs_queue_state_created', ['queue', 'state', 'createdAt'])
export class JobEntity implements Job {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'client_request_id', type: 'text', nullable: true, unique: true })
  clientRequestId!: string | null;

  /** SHA-256 of the submitted spec, so a reused client_request_id with another spec is refused. */
  @Column({ name: 'spec_hash', type: 'text' })
  specHash!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  queue!: string;

  @Column({ type: 'int' })
  priority!: number;

  @Column({ name: 'on_cluster_lost', type: 'text' })
  onClusterLost!: OnClusterLostPolicy;

  @Column({ type: 'text' })
  namespace!: string;

  @Column({ type: 'jsonb' })
  labels!: Record<string, string>;

  @Column({ type: 'jsonb' })
  gang!: GangSpec;

  @Column({ type: 'text' })
  state!: JobStateName;

  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'text' })
  message!: string;

  @Column({ type: 'text', nullable: true })
  cluster!: string | null;

  @Column({
    name: 'dispatch_generation',
    type: 'bigint',
    transformer: { to: (v: number) => v, from: (v: string) => Number(v) },
  })
  dispatchGeneration!: number;

  @Column({ type: 'jsonb' })
  members!: MemberCounts;

  /** Restarts of the whole gang allowed after a member failed. */
  @Column({ name: 'max_restarts', type: 'int', default: 0 })
  maxRestarts!: number;

  /** Seconds of notice before an eviction deletes the gang; null: the hub's default. */
  @Column({ name: 'eviction_grace_seconds', type: 'int', nullable: true })
  evictionGraceSeconds!: number | null;

  @Column({ name: 'priority_class', type: 'text', nullable: true })
  priorityClass!: string | null;

  /** Restarts used so far. */
  @Column({ type: 'int', default: 0 })
  restarts!: number;

  /** A requeued gang is not considered again before this time (backoff after a rejection). */
  @Column({ name: 'not_before', type: 'timestamptz', nullable: true })
  notBefore?: Date | null;

  /** Dispatches of this job that were rejected or lost. */
  @Column({ type: 'int', default: 0 })
  attempts?: number;

  /** Why the last scheduling cycle did not place the gang, per cluster. */
  @Column({ type: 'jsonb', nullable: true })
  explanation?: StoredExplanation | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
