// What a pod takes from its node, counted the way the kube-scheduler's NodeResourcesFit filter
// counts it: the larger of the containers' sum and the largest init container, sidecars
// (restartable init containers) added to both, pod-level requests where set, plus the pod
// overhead, plus one `pods` slot. The hub (placement) and the agent (free capacity) both use this
// one definition, so what the hub books is what the worker's scheduler charges.
import {
  addResources,
  MILLI,
  parseResourceList,
  quantityOf,
  type ResourceList,
} from '@muster/placement';

/** Every pod takes one of its node's `pods` slots (allocatable `pods`, 110 by default). */
export const POD_SLOT: ResourceList = { pods: MILLI };

/** Resources that pod-level requests (spec.resources) may set. */
export const POD_LEVEL_RESOURCES: ReadonlySet<string> = new Set(['cpu', 'memory']);

/** The requests of one init container and whether it is a sidecar (`restartPolicy: Always`). */
export interface InitRequests {
  readonly requests: ResourceList;
  readonly sidecar: boolean;
}

function maxResources(a: ResourceList, b: ResourceList): ResourceList {
  const out: Record<string, bigint> = { ...a };
  for (const [k, v] of Object.entries(b)) if (v > quantityOf(out, k)) out[k] = v;
  return out;
}

/**
 * Effective requests of one pod from its parts (each already a parsed, non-negative list).
 * Init containers run one after another, each beside the sidecars started before it; sidecars
 * then run beside the main containers.
 */
export function effectiveRequests(parts: {
  containers: readonly ResourceList[];
  initContainers?: readonly InitRequests[];
  /** spec.resources.requests (only cpu and memory count). */
  podLevel?: ResourceList;
  overhead?: ResourceList;
}): ResourceList {
  let sum: ResourceList = {};
  for (const c of parts.containers) sum = addResources(sum, c);
  let sidecars: ResourceList = {};
  let initMax: ResourceList = {};
  for (const c of parts.initContainers ?? []) {
    if (c.sidecar) {
      sum = addResources(sum, c.requests);
      sidecars = addResources(sidecars, c.requests);
      initMax = maxResources(initMax, sidecars);
    } else {
      initMax = maxResources(initMax, addResources(c.requests, sidecars));
    }
  }
  let total = maxResources(sum, initMax);
  const level = Object.entries(parts.podLevel ?? {}).filter(([k]) => POD_LEVEL_RESOURCES.has(k));
  if (level.length > 0) total = { ...total, ...Object.fromEntries(level) };
  if (parts.overhead) total = addResources(total, parts.overhead);
  return addResources(total, POD_SLOT);
}

/** The resource-relevant part of a container, as in core/v1. */
export interface ContainerLike {
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } | null;
  restartPolicy?: string | null;
}

/** The resource-relevant part of a pod spec, as in core/v1. */
export interface PodSpecLike {
  containers?: ContainerLike[] | null;
  initContainers?: ContainerLike[] | null;
  overhead?: Record<string, unknown> | null;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } | null;
}

export interface PodRequests {
  requests: ResourceList;
  /** Set when part of the spec could not be counted (the rest still is). */
  problem?: string;
}

/**
 * Requests of any pod seen in a worker cluster, tolerant of what the API server accepted but
 * Muster would refuse at submit: a part that cannot be parsed is left out and named in `problem`.
 */
export function podRequests(spec: PodSpecLike | undefined | null): PodRequests {
  const problems: string[] = [];
  const list = (raw: Record<string, unknown> | null | undefined, field: string): ResourceList => {
    if (!raw) return {};
    const strings = Object.fromEntries(
      Object.entries(raw).filter(
        (e): e is [string, string | number] => typeof e[1] === 'string' || typeof e[1] === 'number',
      ),
    );
    const parsed = parseResourceList(strings, field);
    if (parsed.ok) return parsed.value;
    // Count the entries that do parse.
    problems.push(parsed.error.message);
    const out: Record<string, bigint> = {};
    for (const [k, v] of Object.entries(strings)) {
      const one = parseResourceList({ [k]: v }, field);
      if (one.ok) Object.assign(out, one.value);
    }
    return out;
  };
  const container = (c: ContainerLike, field: string): ResourceList => {
    // A missing request defaults to the limit, as Kubernetes does.
    const limits = list(c.resources?.limits, `${field}.limits`);
    const requests = list(c.resources?.requests, `${field}.requests`);
    return { ...limits, ...requests };
  };
  const requests = effectiveRequests({
    containers: (spec?.containers ?? []).map((c, i) => container(c, `containers[${i}]`)),
    initContainers: (spec?.initContainers ?? []).map((c, i) => ({
      requests: container(c, `initContainers[${i}]`),
      sidecar: c.restartPolicy === 'Always',
    })),
    podLevel: list(spec?.resources?.requests, 'resources.requests'),
    overhead: list(spec?.overhead, 'overhead'),
  });
  return problems.length > 0 ? { requests, problem: problems.join('; ') } : { requests };
}
