import { Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core.module';
import { JsonLogger, LOGGER } from '../logging/json-logger';
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
      useFactory: (repo: InventoryRepository, logger: JsonLogger) =>
        new InventoryService(repo, logger.child('inventory')),
    },
  ],
  exports: [InventoryService, InventoryRepository],
})
export class InventoryModule {}
