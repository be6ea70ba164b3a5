import { Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core.module';
import type { Log } from '@muster/log';
import { LOGGER } from '../logging/log';
import { InventoryRepository } from './inventory.repository';
import { InventoryService } from './inventory.service';

@Module({
  providers: [
    {
      provide: InventoryRepository,
      inject: [DATA_SOURCE],
      useFactory: (db: DataSource) => new InventoryRepository(db),
    },
    {
      provide: InventoryService,
      inject: [InventoryRepository, LOGGER],
      useFactory: (repo: InventoryRepository, logger: Log) =>
        new InventoryService(repo, logger.child({ component: 'inventory' })),
    },
  ],
  exports: [InventoryService, InventoryRepository],
})
export class InventoryModule {}
