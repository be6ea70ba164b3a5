import type { InventoryServiceServer } from '@muster/api';
import type { Principal, Role } from '../auth/principal';
import { ANY_ROLE, unary, type RpcContext } from '../grpc/handlers';
import type { Cohort as CohortValue } from './cluster.domain';
import type { InventoryService } from './inventory.service';
import { cohortToDomain } from './cohort.mapper';
import { graceToDomain } from '../jobs/job-spec.mapper';
import {
  checkName,
  clusterChangesToDomain,
  clusterRegistrationToDomain,
  clusterToProto,
  queueToDomain,
  queueToProto,
  reasonToDomain,
} from './inventory.mapper';
import {
  clusterFor,
  clustersFor,
  cohortsFor as cohortsOf,
  queueFor,
  queuesFor,
  utilisationFor,
} from './inventory.views';

/** Only admins change the inventory; everyone authenticated may read it (see cluster view). */
const ADMIN: readonly Role[] = ['admin'];

/**
 * InventoryService over gRPC: mapping and roles only; the rules live in InventoryService, which
 * takes and returns domain values.
 */
export function inventoryServiceHandlers(
  inventory: InventoryService,
  ctx: RpcContext,
): InventoryServiceServer {
  const admin = <Req, Res>(method: string, fn: (req: Req, caller: Principal) => Promise<Res>) =>
    unary<Req, Res>(ctx, { method, roles: ADMIN }, fn);
  const read = <Req, Res>(method: string, fn: (req: Req, caller: Principal) => Promise<Res>) =>
    unary<Req, Res>(ctx, { method, roles: ANY_ROLE }, fn);
  const cohortsFor = (caller: Principal, cohorts: readonly CohortValue[]) =>
    cohortsOf(inventory, caller, cohorts);
  const cohortFor = async (caller: Principal, cohort: CohortValue) =>
    (await cohortsFor(caller, [cohort]))[0]!;
  return {
    registerCluster: admin('RegisterCluster', async (req) => ({
      cluster: clusterToProto(await inventory.registerCluster(clusterRegistrationToDomain(req))),
    })),
    updateCluster: admin('UpdateCluster', async (req) => {
      const name = checkName('name', req.name);
      const changes = clusterChangesToDomain(req);
      return { cluster: clusterToProto(await inventory.updateCluster(name, changes)) };
    }),
    getCluster: read('GetCluster', async (req, caller) => ({
      cluster: clusterFor(caller, await inventory.getCluster(checkName('name', req.name))),
    })),
    listClusters: read('ListClusters', async (_req, caller) => ({
      clusters: await clustersFor(inventory, caller),
    })),
    cordonCluster: admin('CordonCluster', async (req) => {
      const name = checkName('name', req.name);
      const reason = reasonToDomain(req.reason);
      return { cluster: clusterToProto(await inventory.setCordoned(name, true, reason)) };
    }),
    uncordonCluster: admin('UncordonCluster', async (req) => ({
      cluster: clusterToProto(await inventory.setCordoned(checkName('name', req.name), false)),
    })),
    drainCluster: admin('DrainCluster', async (req, caller) => {
      const name = checkName('name', req.name);
      const grace = graceToDomain('grace_seconds', req.graceSeconds);
      const reason = reasonToDomain(req.reason);
      const { cluster, noticed } = await inventory.drainCluster(name, grace, reason, caller.name);
      return { cluster: clusterToProto(cluster), noticedJobIds: noticed };
    }),
    fenceCluster: admin('FenceCluster', async (req, caller) => {
      const name = checkName('name', req.name);
      const reason = reasonToDomain(req.reason);
      const { cluster, requeued } = await inventory.fenceCluster(name, reason, caller.name);
      return { cluster: clusterToProto(cluster), requeuedJobIds: requeued };
    }),
    deregisterCluster: admin('DeregisterCluster', async (req) => {
      await inventory.deregisterCluster(checkName('name', req.name));
      return {};
    }),
    createQueue: admin('CreateQueue', async (req) => ({
      queue: queueToProto(await inventory.createQueue(queueToDomain('queue', req.queue))),
    })),
    updateQueue: admin('UpdateQueue', async (req) => ({
      queue: queueToProto(await inventory.updateQueue(queueToDomain('queue', req.queue))),
    })),
    getQueue: read('GetQueue', async (req, caller) => ({
      queue: await queueFor(inventory, caller, checkName('name', req.name)),
    })),
    getUtilisation: read('GetUtilisation', (req, caller) => utilisationFor(inventory, caller, req)),
    listQueues: read('ListQueues', async (_req, caller) => ({
      queues: await queuesFor(inventory, caller),
    })),
    deleteQueue: admin('DeleteQueue', async (req) => {
      await inventory.deleteQueue(checkName('name', req.name));
      return {};
    }),
    createCohort: admin('CreateCohort', async (req, caller) => ({
      cohort: await cohortFor(
        caller,
        await inventory.createCohort(cohortToDomain('cohort', req.cohort)),
      ),
    })),
    updateCohort: admin('UpdateCohort', async (req, caller) => ({
      cohort: await cohortFor(
        caller,
        await inventory.updateCohort(cohortToDomain('cohort', req.cohort)),
      ),
    })),
    getCohort: read('GetCohort', async (req, caller) => ({
      cohort: await cohortFor(caller, await inventory.getCohort(checkName('name', req.name))),
    })),
    listCohorts: read('ListCohorts', async (_req, caller) => ({
      cohorts: await cohortsFor(caller, await inventory.listCohorts()),
    })),
    deleteCohort: admin('DeleteCohort', async (req) => {
      await inventory.deleteCohort(checkName('name', req.name));
      return {};
    }),
  };
}
