import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Cohort, CohortQuotaSpec } from './cluster.domain';

@Entity({ name: 'cohorts' })
export class CohortEntity implements Cohort {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'text', nullable: true })
  parent!: string | null;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'jsonb', nullable: true })
  quota!: CohortQuotaSpec | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
