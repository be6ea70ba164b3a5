import { Module } from '@nestjs/common';
import { CapacityRepository } from './capacity.repository';
import { ClusterStatusRepository, InventoryRepository } from './inventory.repository';

/** Clusters, queues, agent status and reported capacity in Postgres. */
@Module({
  providers: [InventoryRepository, ClusterStatusRepository, CapacityRepository],
  exports: [InventoryRepository, ClusterStatusRepository, CapacityRepository],
})
export class InventoryStoreModule {}
