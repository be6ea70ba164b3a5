import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { InventoryStoreModule } from './inventory-store.module';
import { InventoryService } from './inventory.service';

/** Registering clusters and queues, cordoning and fencing by hand (InventoryService). */
@Module({
  imports: [InventoryStoreModule, DispatchModule],
  providers: [InventoryService],
  exports: [InventoryService],
})
export class InventoryModule {}
