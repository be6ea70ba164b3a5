import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { JobStateName, MemberCounts } from './job.domain';

@Entity({ name: 'job_events' })
@Index('job_events_job_seq', ['jobId', 'sequence'])
export class JobEventEntity {
  @PrimaryGeneratedColumn({ name: 'seq', type: 'bigint' })
  sequence!: string;

  @Column({ name: 'job_id', type: 'uuid' })
  jobId!: string;

  @Column({ type: 'text' })
  queue!: string;

  @Column({ name: 'from_state', type: 'text', nullable: true })
  fromState!: JobStateName | null;

  @Column({ type: 'text' })
  state!: JobStateName;

  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'text' })
  message!: string;

  @Column({ type: 'text', nullable: true })
  cluster!: string | null;

  @Column({ type: 'jsonb' })
  members!: MemberCounts;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
