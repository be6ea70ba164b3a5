import { Column, Entity, PrimaryColumn } from 'typeorm';
import type {
  AccessProvider,
  AgentStateName,
  CapacitySummary,
  Cluster,
  ClusterDrainState,
  Condition,
  Property,
} from './cluster.domain';

/** A cluster of the inventory: the ClusterProfile fields plus Muster's own. */
@Entity({ name: 'clusters' })
export class ClusterEntity implements Cluster {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ name: 'display_name', type: 'text' })
  displayName!: string;

  @Column({ name: 'cluster_manager', type: 'text' })
  clusterManager!: string;

  @Column({ name: 'cluster_set', type: 'text' })
  clusterSet!: string;

  @Column({ type: 'jsonb' })
  labels!: Record<string, string>;

  @Column({ name: 'topology_levels', type: 'text', array: true })
  topologyLevels!: string[];

  @Column({ name: 'access_providers', type: 'jsonb' })
  accessProviders!: AccessProvider[];

  @Column({ type: 'jsonb' })
  conditions!: Condition[];

  @Column({ type: 'jsonb' })
  properties!: Property[];

  @Column({ name: 'kubernetes_version', type: 'text' })
  kubernetesVersion!: string;

  @Column({ type: 'jsonb', nullable: true })
  capacity!: CapacitySummary | null;

  @Column({ name: 'agent_state', type: 'text' })
  agentState!: AgentStateName;

  @Column({ name: 'agent_version', type: 'text' })
  agentVersion!: string;

  @Column({ name: 'last_heartbeat_at', type: 'timestamptz', nullable: true })
  lastHeartbeatAt!: Date | null;

  @Column({ type: 'boolean' })
  cordoned!: boolean;

  @Column({ type: 'jsonb', nullable: true })
  drain?: ClusterDrainState | null;

  @Column({ name: 'read_only', type: 'boolean' })
  readOnly!: boolean;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
