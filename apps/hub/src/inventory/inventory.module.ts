import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { SchedulingModule } from '../scheduling/scheduling.module';
import { InventoryStoreModule } from './inventory-store.module';
import { InventoryService } from './inventory.service';

/** Registering clusters and queues, cordoning and fencing by hand (InventoryService). */
@Module({
  // SchedulingModule: the usage history that queues' budget figures are read from.
  imports: [InventoryStoreModule, DispatchModule, SchedulingModule],
  providers: [InventoryService],
  exports: [InventoryService],
})
export class InventoryModule {}
