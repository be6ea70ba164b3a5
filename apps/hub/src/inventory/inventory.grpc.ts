import type { Cluster, InventoryServiceServer } from '@muster/api';
import { notFound } from '../common/errors';
import { canSeeQueue, type Principal, type Role } from '../auth/principal';
import { ANY_ROLE, unary, type RpcContext } from '../grpc/handlers';
import type { InventoryService } from './inventory.service';
import { checkName, clusterToProto, queueToProto } from './inventory.mapper';

/** Only admins change the inventory; everyone authenticated may read it (see cluster view). */
const ADMIN: readonly Role[] = ['admin'];

/**
 * A cluster as the caller may see it: submitters (tenants) do not get the access providers —
 * how to reach a worker cluster's API server is for operators.
 */
function clusterFor(caller: Principal, cluster: Cluster): Cluster {
  return caller.role === 'submitter' ? { ...cluster, accessProviders: [] } : cluster;
}

/** InventoryService over gRPC: mapping and roles only; the rules live in InventoryService. */
export function inventoryServiceHandlers(
  inventory: InventoryService,
  ctx: RpcContext,
): InventoryServiceServer {
  const admin = <Req, Res>(method: string, fn: (req: Req, caller: Principal) => Promise<Res>) =>
    unary<Req, Res>(ctx, { method, roles: ADMIN }, fn);
  const read = <Req, Res>(method: string, fn: (req: Req, caller: Principal) => Promise<Res>) =>
    unary<Req, Res>(ctx, { method, roles: ANY_ROLE }, fn);
  return {
    registerCluster: admin('RegisterCluster', async (req) => ({
      cluster: clusterToProto(await inventory.registerCluster(req)),
    })),
    updateCluster: admin('UpdateCluster', async (req) => ({
      cluster: clusterToProto(await inventory.updateCluster(req)),
    })),
    getCluster: read('GetCluster', async (req, caller) => ({
      cluster: clusterFor(caller, clusterToProto(await inventory.getCluster(req.name))),
    })),
    listClusters: read('ListClusters', async (_req, caller) => ({
      clusters: (await inventory.listClusters()).map((c) => clusterFor(caller, clusterToProto(c))),
    })),
    cordonCluster: admin('CordonCluster', async (req) => ({
      cluster: clusterToProto(await inventory.setCordoned(req, true)),
    })),
    uncordonCluster: admin('UncordonCluster', async (req) => ({
      cluster: clusterToProto(await inventory.setCordoned(req, false)),
    })),
    fenceCluster: admin('FenceCluster', async (req, caller) => {
      const { cluster, requeued } = await inventory.fenceCluster(req, caller.name);
      return { cluster: clusterToProto(cluster), requeuedJobIds: requeued };
    }),
    deregisterCluster: admin('DeregisterCluster', async (req) => {
      await inventory.deregisterCluster(req.name);
      return {};
    }),
    createQueue: admin('CreateQueue', async (req) => ({
      queue: queueToProto(await inventory.createQueue(req.queue)),
    })),
    updateQueue: admin('UpdateQueue', async (req) => ({
      queue: queueToProto(await inventory.updateQueue(req.queue)),
    })),
    getQueue: read('GetQueue', async (req, caller) => {
      // Another tenant's queue answers like a missing one (a bad name still says why).
      if (!canSeeQueue(caller, req.name)) {
        checkName('name', req.name);
        throw notFound('queue', req.name);
      }
      return { queue: queueToProto(await inventory.getQueue(req.name)) };
    }),
    listQueues: read('ListQueues', async (_req, caller) => ({
      queues: (await inventory.listQueues())
        .filter((q) => canSeeQueue(caller, q.name))
        .map(queueToProto),
    })),
    deleteQueue: admin('DeleteQueue', async (req) => {
      await inventory.deleteQueue(req.name);
      return {};
    }),
  };
}
