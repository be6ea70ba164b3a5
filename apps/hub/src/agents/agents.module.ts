import { Module } from '@nestjs/common';
import { configSlice } from '../config/config-slice';
import { DispatchModule } from '../dispatch/dispatch.module';
import { InventoryStoreModule } from '../inventory/inventory-store.module';
import { AgentGateway, GATEWAY_SETTINGS } from './agent-gateway';

/** The hub's end of the agents' streams (AgentService.Connect). */
@Module({
  imports: [DispatchModule, InventoryStoreModule],
  providers: [
    AgentGateway,
    configSlice(GATEWAY_SETTINGS, (c) => ({
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      selfFenceTimeoutMs: c.selfFenceTimeoutMs,
      fenceDeleteGraceSeconds: c.fenceDeleteGraceSeconds,
      persistIntervalMs: 500,
    })),
  ],
  exports: [AgentGateway],
})
export class AgentsModule {}
