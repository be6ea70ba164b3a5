// Materialising one gang: in Workload API mode first its PodGroup (gang policy, minCount = gang
// size), then its ResourceClaimTemplates (DRA), then every member gated (bounded concurrency),
// then ungate them all — or, if any create fails, delete every member already created (and the
// PodGroup and the templates) and answer REJECTED. Idempotent:
// names are deterministic, so a repeated run finds its own objects (AlreadyExists) and goes on.
import { DispatchOutcome } from '@muster/api';
import {
  describeKubeError,
  isAlreadyExists,
  isTransient,
  kubeError,
  type KubeError,
} from './api-errors';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '@muster/common';
import { LABEL_FENCING_TOKEN, LABEL_GANG_ID, LABEL_MEMBER_INDEX, LABEL_POD_SET } from './constants';
import type { PodApi } from './kube';
import type { Log } from '@muster/log';
import { podKey } from './objects';
import type { GangPlan, MemberPlan } from './pod-builder';
import { runPool } from './pool';

export interface Outcome {
  outcome: DispatchOutcome;
  /** "", or e.g. "CreateFailed", "UngateFailed", "Cancelled". */
  reason: string;
  message: string;
}

export interface MaterialiseContext {
  pods: PodApi;
  concurrency: number;
  log: Log;
  /**
   * A reason when the gang must be given up (cancelled, fenced, the agent's lease ran out):
   * asked before every create and every ungate, and between the steps.
   */
  abandoned(): string | undefined;
  /** Records why the agent deletes a pod (for the LOST member state). */
  noteDeletion(key: string, reason: string): void;
  /** Attempts per request on transient failures; default 4. */
  attempts?: number;
  /** First retry delay in ms; default 200. */
  retryInitialMs?: number;
}

export const ACCEPTED = DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED;
export const REJECTED = DispatchOutcome.DISPATCH_OUTCOME_REJECTED;

class StepFailed extends Error {
  constructor(
    readonly member: MemberPlan,
    readonly kube: KubeError | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Runs `op`, retrying transient API failures with backoff. */
export async function withRetry<T>(
  op: () => Promise<T>,
  attempts: number,
  initialMs: number,
): Promise<T> {
  const backoff = new Backoff({ initialMs, maxMs: initialMs * 16 });
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= attempts || !isTransient(kubeError(err))) throw err;
      await sleep(backoff.next());
    }
  }
}

function isOurs(labels: Record<string, string>, plan: GangPlan, m: MemberPlan): boolean {
  return (
    labels[LABEL_GANG_ID] === plan.gangId &&
    labels[LABEL_FENCING_TOKEN] === String(plan.token) &&
    labels[LABEL_POD_SET] === m.podSet &&
    labels[LABEL_MEMBER_INDEX] === String(m.index)
  );
}

export interface DeleteResult {
  /** Pods that existed and are now gone or being deleted. */
  deleted: number;
  /** Names whose delete failed (after retries). */
  left: string[];
}

/**
 * Deletes the named pods (concurrently; already gone is fine), retrying transient failures.
 * `gracePeriodSeconds` (fencing) bounds each pod's termination grace; undefined keeps its own.
 */
export async function deletePods(
  pods: PodApi,
  namespace: string,
  names: readonly string[],
  concurrency: number,
  reason: string,
  noteDeletion: (key: string, reason: string) => void,
  gracePeriodSeconds?: number,
  attempts = 6,
  retryInitialMs = 200,
): Promise<DeleteResult> {
  const results = await runPool(
    names,
    async (name) => {
      noteDeletion(podKey(namespace, name), reason);
      return withRetry(
        () => pods.deletePod(namespace, name, gracePeriodSeconds),
        attempts,
        retryInitialMs,
      );
    },
    { concurrency },
  );
  const ok = (i: number) => {
    const r = results[i]!;
    return 'ok' in r && r.ok;
  };
  return {
    deleted: results.filter((r) => 'ok' in r && r.ok && r.value).length,
    left: names.filter((_, i) => !ok(i)),
  };
}

/** Deletes a gang's PodGroup (already gone is fine), retrying transient failures; false if it failed. */
export async function deletePodGroup(
  api: PodApi,
  namespace: string,
  name: string,
  attempts = 6,
  retryInitialMs = 200,
): Promise<boolean> {
  try {
    await withRetry(() => api.deletePodGroup(namespace, name), attempts, retryInitialMs);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates one object of the gang; on AlreadyExists it must be this gang's and token's (its
 * labels say) and not being deleted. `foreign`: the object is someone else's (never deleted).
 */
async function createOwned(
  kind: string,
  name: string,
  plan: GangPlan,
  create: () => Promise<unknown>,
  read: () => Promise<{ labels: Record<string, string>; deleting: boolean } | undefined>,
  attempts: number,
  retryMs: number,
): Promise<{ message: string; foreign: boolean } | undefined> {
  const failed = (message: string, foreign = false) => ({ message, foreign });
  try {
    await withRetry(create, attempts, retryMs);
    return undefined;
  } catch (err) {
    const e = kubeError(err);
    if (!isAlreadyExists(e)) return failed(`creating ${kind} ${name}: ${describeKubeError(e)}`);
    try {
      const existing = await withRetry(read, attempts, retryMs);
      if (
        !existing ||
        existing.labels[LABEL_GANG_ID] !== plan.gangId ||
        existing.labels[LABEL_FENCING_TOKEN] !== String(plan.token)
      ) {
        return failed(
          `creating ${kind} ${name}: ${describeKubeError(e)} (not this gang's ${kind})`,
          true,
        );
      }
      if (existing.deleting)
        return failed(`${kind} ${name} of an earlier attempt is still being deleted`);
      return undefined;
    } catch (readErr) {
      return failed(`reading ${kind} ${name}: ${describeKubeError(kubeError(readErr))}`);
    }
  }
}

/** Creates the gang's PodGroup; on AlreadyExists it must be this gang's and token's. */
function createPodGroup(
  plan: GangPlan,
  ctx: MaterialiseContext,
  attempts: number,
  retryMs: number,
): Promise<{ message: string; foreign: boolean } | undefined> {
  const pg = plan.podGroup!;
  const name = pg.metadata.name;
  return createOwned(
    'PodGroup',
    name,
    plan,
    () => ctx.pods.createPodGroup(plan.namespace, pg),
    () => ctx.pods.readPodGroup(plan.namespace, name),
    attempts,
    retryMs,
  );
}

/** Deletes ResourceClaimTemplates of a gang (already gone is fine); returns the names left. */
export async function deleteClaimTemplates(
  api: PodApi,
  namespace: string,
  names: readonly string[],
  attempts = 6,
  retryInitialMs = 200,
): Promise<string[]> {
  const results = await Promise.all(
    names.map((n) =>
      withRetry(() => api.deleteClaimTemplate(namespace, n), attempts, retryInitialMs).then(
        () => true,
        () => false,
      ),
    ),
  );
  return names.filter((_, i) => !results[i]);
}

/**
 * Creates the gang's ResourceClaimTemplates; on AlreadyExists each must be this gang's and
 * token's. Returns the first failure, and the names that are someone else's (never deleted).
 */
async function createClaimTemplates(
  plan: GangPlan,
  ctx: MaterialiseContext,
  attempts: number,
  retryMs: number,
): Promise<{ message: string; foreign: string[] } | undefined> {
  const results = await Promise.all(
    plan.claimTemplates.map((t) =>
      createOwned(
        'ResourceClaimTemplate',
        t.metadata.name,
        plan,
        () => ctx.pods.createClaimTemplate(plan.namespace, t),
        () => ctx.pods.readClaimTemplate(plan.namespace, t.metadata.name),
        attempts,
        retryMs,
      ),
    ),
  );
  const foreign = plan.claimTemplates
    .filter((_, i) => results[i]?.foreign)
    .map((t) => t.metadata.name);
  const failures = results.flatMap((r) => (r ? [r.message] : []));
  return failures.length === 0 ? undefined : { message: failures.sort()[0]!, foreign };
}

/** How long the create step took and when it began, for the log of the whole materialisation. */
export interface CreateTiming {
  started: number;
  cpuAtStart: NodeJS.CpuUsage;
  createdMs: number;
}

/** Either every member exists, gated, or the create step rolled back and answers this. */
export type CreateResult = { ok: true; timing: CreateTiming } | { ok: false; outcome: Outcome };

function stepFailure(err: unknown, m: MemberPlan): StepFailed {
  return err instanceof StepFailed
    ? err
    : new StepFailed(m, kubeError(err), describeKubeError(kubeError(err)));
}

/**
 * Step 1 of a materialisation: the PodGroup (Workload API mode), then every member gated. On any
 * failure, or when the gang is given up meanwhile, every member made is deleted again.
 */
export async function createMembers(
  plan: GangPlan,
  ctx: MaterialiseContext,
): Promise<CreateResult> {
  const attempts = ctx.attempts ?? 4;
  const retryMs = ctx.retryInitialMs ?? 200;
  // Set by whichever request fails first (an object: closures write it, TS must not narrow it).
  const st: { failure?: StepFailed } = {};
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const rejected = async (
    reason: string,
    message: string,
    deleteGroup = true,
    keepTemplates: readonly string[] = [],
  ) => ({
    ok: false as const,
    outcome: await rollBack(plan, ctx, reason, message, deleteGroup, keepTemplates),
  });

  // 0. The PodGroup first, so no member ever exists without it (the gates still hold every
  // member until all exist; the PodGroup makes the scheduler bind them all or none).
  if (plan.podGroup) {
    const failed = await createPodGroup(plan, ctx, attempts, retryMs);
    const gaveUp = ctx.abandoned();
    if (failed || gaveUp) {
      return rejected(
        gaveUp ?? 'CreateFailed',
        gaveUp ? `gang ${gaveUp.toLowerCase()} while being created` : failed!.message,
        // A foreign PodGroup of that name is not ours to delete.
        !failed?.foreign,
      );
    }
  }

  // 0b. The gang's ResourceClaimTemplates, which the members name: a pod naming a template that
  // does not exist yet would wait for it, so they come first.
  if (plan.claimTemplates.length > 0) {
    const failed = await createClaimTemplates(plan, ctx, attempts, retryMs);
    const gaveUp = ctx.abandoned();
    if (failed || gaveUp) {
      return rejected(
        gaveUp ?? 'CreateFailed',
        gaveUp ? `gang ${gaveUp.toLowerCase()} while being created` : failed!.message,
        true,
        failed?.foreign ?? [],
      );
    }
  }

  // 1. Create every member, gated. The first failure stops members not yet started.
  const createOne = async (m: MemberPlan): Promise<void> => {
    try {
      await withRetry(() => ctx.pods.createPod(plan.namespace, m.body), attempts, retryMs);
    } catch (err) {
      const e = kubeError(err);
      if (!isAlreadyExists(e)) {
        throw new StepFailed(m, e, `creating pod ${m.name}: ${describeKubeError(e)}`);
      }
      const existing = await withRetry(
        () => ctx.pods.readPod(plan.namespace, m.name),
        attempts,
        retryMs,
      );
      if (!existing || !isOurs(existing.labels, plan, m)) {
        throw new StepFailed(
          m,
          e,
          `creating pod ${m.name}: ${describeKubeError(e)} (not a member of this gang)`,
        );
      }
      if (existing.deleting) {
        throw new StepFailed(m, e, `pod ${m.name} of an earlier attempt is still being deleted`);
      }
    }
  };
  await runPool(
    plan.members,
    async (m) => {
      try {
        await createOne(m);
      } catch (err) {
        const f = stepFailure(err, m);
        st.failure ??= f;
        throw f;
      }
    },
    { concurrency: ctx.concurrency, stop: () => st.failure !== undefined || !!ctx.abandoned() },
  );
  const createdMs = Math.round(performance.now() - started);
  const abandoned = ctx.abandoned();
  const failure = st.failure as StepFailed | undefined;
  if (failure || abandoned) {
    return rejected(
      abandoned ?? 'CreateFailed',
      abandoned ? `gang ${abandoned.toLowerCase()} while being created` : (failure?.message ?? ''),
    );
  }
  return { ok: true, timing: { started, cpuAtStart, createdMs } };
}

/**
 * Step 2, only once every member exists: removes the gate of every member. On any failure, or
 * when the gang is given up meanwhile, every member is deleted again.
 */
export async function ungateMembers(
  plan: GangPlan,
  ctx: MaterialiseContext,
  timing: CreateTiming,
): Promise<Outcome> {
  const attempts = ctx.attempts ?? 4;
  const retryMs = ctx.retryInitialMs ?? 200;
  const st: { failure?: StepFailed } = {};
  await runPool(
    plan.members,
    async (m) => {
      try {
        await withRetry(() => ctx.pods.removeGate(plan.namespace, m.name), attempts, retryMs);
      } catch (err) {
        const e = kubeError(err);
        const f = new StepFailed(m, e, `ungating pod ${m.name}: ${describeKubeError(e)}`);
        st.failure ??= f;
        throw f;
      }
    },
    // Asked before every ungate: an agent whose lease ran out (or whose gang was fenced) while
    // ungating must not release one more member — the hub may have moved the gang meanwhile.
    { concurrency: ctx.concurrency, stop: () => st.failure !== undefined || !!ctx.abandoned() },
  );
  const abandoned = ctx.abandoned();
  const failure = st.failure as StepFailed | undefined;
  if (failure || abandoned) {
    return rollBack(
      plan,
      ctx,
      abandoned ?? 'UngateFailed',
      abandoned ? `gang ${abandoned.toLowerCase()} while being ungated` : (failure?.message ?? ''),
    );
  }
  const cpu = process.cpuUsage(timing.cpuAtStart);
  ctx.log.info('gang materialised', {
    members: plan.members.length,
    createMs: timing.createdMs,
    totalMs: Math.round(performance.now() - timing.started),
    // CPU time of the whole agent process meanwhile (informer events included).
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  });
  return {
    outcome: ACCEPTED,
    reason: '',
    message: `${plan.members.length} members created and ungated`,
  };
}

/** Both steps: create every member gated, then, only if all exist, ungate them all. */
export async function materialise(plan: GangPlan, ctx: MaterialiseContext): Promise<Outcome> {
  const created = await createMembers(plan, ctx);
  if (!created.ok) return created.outcome;
  return ungateMembers(plan, ctx, created.timing);
}

async function rollBack(
  plan: GangPlan,
  ctx: MaterialiseContext,
  reason: string,
  message: string,
  deleteGroup = true,
  keepTemplates: readonly string[] = [],
): Promise<Outcome> {
  const templates = plan.claimTemplates
    .map((t) => t.metadata.name)
    .filter((n) => !keepTemplates.includes(n));
  const [{ deleted, left: pods }, groupDeleted, templatesLeft] = await Promise.all([
    deletePods(
      ctx.pods,
      plan.namespace,
      plan.members.map((m) => m.name),
      ctx.concurrency,
      reason === 'CreateFailed' || reason === 'UngateFailed' ? 'DispatchRejected' : reason,
      ctx.noteDeletion,
    ),
    plan.podGroup && deleteGroup
      ? deletePodGroup(ctx.pods, plan.namespace, plan.podGroup.metadata.name)
      : Promise.resolve(true),
    deleteClaimTemplates(ctx.pods, plan.namespace, templates),
  ]);
  // The PodGroup left behind is deleted by the agent's sweep of orphan PodGroups.
  const left = groupDeleted ? pods : [...pods, `PodGroup ${plan.podGroup!.metadata.name}`];
  for (const t of templatesLeft) left.push(`ResourceClaimTemplate ${t}`);
  ctx.log.warn('gang rejected; every member deleted', { reason, error: message, deleted });
  if (left.length > 0) {
    ctx.log.error('could not delete every member of a rejected gang; retrying in the background', {
      reason,
      left: left.length,
    });
    return {
      outcome: REJECTED,
      reason,
      message: `${message}; ${left.length} member(s) still to be deleted`,
    };
  }
  return { outcome: REJECTED, reason, message };
}
