import type { InventoryServiceServer } from '@muster/api';
import type { ContextLogger } from '../logging/json-logger';
import type { HubMetrics } from '../http/metrics';
import { unary } from '../grpc/handlers';
import type { InventoryService } from './inventory.service';
import { clusterToProto, queueToProto } from './inventory.mapper';

/** InventoryService over gRPC: mapping only; the rules live in InventoryService. */
export function inventoryServiceHandlers(
  inventory: InventoryService,
  metrics: HubMetrics,
  log: ContextLogger,
): InventoryServiceServer {
  const call = <Req, Res>(method: string, fn: (req: Req) => Promise<Res>) =>
    unary<Req, Res>(method, log, metrics, fn);
  return {
    registerCluster: call('RegisterCluster', async (req) => ({
      cluster: clusterToProto(await inventory.registerCluster(req)),
    })),
    updateCluster: call('UpdateCluster', async (req) => ({
      cluster: clusterToProto(await inventory.updateCluster(req)),
    })),
    getCluster: call('GetCluster', async (req) => ({
      cluster: clusterToProto(await inventory.getCluster(req.name)),
    })),
    listClusters: call('ListClusters', async () => ({
      clusters: (await inventory.listClusters()).map(clusterToProto),
    })),
    cordonCluster: call('CordonCluster', async (req) => ({
      cluster: clusterToProto(await inventory.setCordoned(req, true)),
    })),
    uncordonCluster: call('UncordonCluster', async (req) => ({
      cluster: clusterToProto(await inventory.setCordoned(req, false)),
    })),
    deregisterCluster: call('DeregisterCluster', async (req) => {
      await inventory.deregisterCluster(req.name);
      return {};
    }),
    createQueue: call('CreateQueue', async (req) => ({
      queue: queueToProto(await inventory.createQueue(req.queue)),
    })),
    updateQueue: call('UpdateQueue', async (req) => ({
      queue: queueToProto(await inventory.updateQueue(req.queue)),
    })),
    getQueue: call('GetQueue', async (req) => ({
      queue: queueToProto(await inventory.getQueue(req.name)),
    })),
    listQueues: call('ListQueues', async () => ({
      queues: (await inventory.listQueues()).map(queueToProto),
    })),
    deleteQueue: call('DeleteQueue', async (req) => {
      await inventory.deleteQueue(req.name);
      return {};
    }),
  };
}
