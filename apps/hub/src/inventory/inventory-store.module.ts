import { Module } from '@nestjs/common';
import { ClusterStatusRepository, InventoryRepository } from './inventory.repository';

/** Clusters, queues and agent status in Postgres. */
@Module({
  providers: [InventoryRepository, ClusterStatusRepository],
  exports: [InventoryRepository, ClusterStatusRepository],
})
export class InventoryStoreModule {}
