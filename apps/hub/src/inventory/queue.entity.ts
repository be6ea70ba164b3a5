import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Queue, QueueBudgetSpec, QueuePreemptionSpec, QueueQuotaSpec } from './cluster.domain';

@Entity({ name: 'queues' })
export class QueueEntity implements Queue {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'int' })
  weight!: number;

  @Column({ name: 'allowed_namespaces', type: 'text', array: true })
  allowedNamespaces!: string[];

  @Column({ type: 'jsonb', nullable: true })
  quota!: QueueQuotaSpec | null;

  @Column({ type: 'jsonb', nullable: true })
  budget!: QueueBudgetSpec | null;

  @Column({ type: 'jsonb', nullable: true })
  preemption!: QueuePreemptionSpec | null;

  @Column({ name: 'max_priority', type: 'int', nullable: true })
  maxPriority!: number | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
