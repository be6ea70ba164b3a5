// What a pod takes from its node, counted the way the kube-scheduler counts it: the larger of the
// containers' sum and the largest init container, sidecars (restartable init containers) added to
// both, pod-level requests where set, plus the pod overhead, plus one "pods" slot.
import { checkPodTemplate } from '@muster/k8s';
import {
  addResources,
  MILLI,
  parseResourceList,
  quantityOf,
  type ResourceList,
} from '@muster/placement';

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

/** Resources that pod-level requests (spec.resources) may set. */
const POD_LEVEL_RESOURCES = new Set(['cpu', 'memory']);

function stripped(c: ContainerLike, name: string): Record<string, unknown> {
  return { name, image: 'x', resources: c.resources ?? undefined };
}

function toList(requests: Record<string, string>): ResourceList {
  const parsed = parseResourceList(requests);
  return parsed.ok ? parsed.value : {};
}

function maxResources(a: ResourceList, b: ResourceList): ResourceList {
  const out: Record<string, bigint> = { ...a };
  for (const [k, v] of Object.entries(b)) if (v > quantityOf(out, k)) out[k] = v;
  return out;
}

/** Requests of one container (a missing request defaults to the limit, as Kubernetes does). */
function containerRequests(c: ContainerLike): { list: ResourceList; problem?: string } {
  const r = checkPodTemplate({ spec: { containers: [stripped(c, 'c')] } });
  if (!r.ok) return { list: {}, problem: `${r.violation.field}: ${r.violation.message}` };
  return { list: toList(r.value.requests) };
}

/** Effective requests of a pod, including `pods: 1` (in milli-units, as everywhere). */
export function podRequests(spec: PodSpecLike | undefined | null): PodRequests {
  const containers = spec?.containers ?? [];
  const inits = spec?.initContainers ?? [];
  const podLevel = spec?.resources?.requests;
  const hasSidecar = inits.some((c) => c.restartPolicy === 'Always');
  const hasPodLevel =
    podLevel !== undefined && podLevel !== null && Object.keys(podLevel).length > 0;
  const slot: ResourceList = { pods: MILLI };

  if (!hasSidecar && !hasPodLevel && containers.length > 0) {
    // The common case: exactly checkPodTemplate's max(sum, max init) + overhead.
    const r = checkPodTemplate({
      spec: {
        containers: containers.map((c, i) => stripped(c, `c${i}`)),
        initContainers: inits.map((c, i) => stripped(c, `i${i}`)),
        overhead: spec?.overhead ?? undefined,
      },
    });
    if (r.ok) return { requests: addResources(toList(r.value.requests), slot) };
  }

  // Sidecars, pod-level requests, or a spec checkPodTemplate refuses: per container.
  const problems: string[] = [];
  const req = (c: ContainerLike): ResourceList => {
    const r = containerRequests(c);
    if (r.problem) problems.push(r.problem);
    return r.list;
  };
  let sum: ResourceList = {};
  for (const c of containers) sum = addResources(sum, req(c));
  let sidecars: ResourceList = {};
  let initMax: ResourceList = {};
  for (const c of inits) {
    const r = req(c);
    if (c.restartPolicy === 'Always') {
      sum = addResources(sum, r);
      sidecars = addResources(sidecars, r);
      initMax = maxResources(initMax, sidecars);
    } else {
      initMax = maxResources(initMax, addResources(r, sidecars));
    }
  }
  let total = maxResources(sum, initMax);
  if (hasPodLevel) {
    const level = toList(
      Object.fromEntries(
        Object.entries(podLevel).filter(([k, v]) => POD_LEVEL_RESOURCES.has(k) && v !== null),
      ) as Record<string, string>,
    );
    total = { ...total, ...level };
  }
  if (spec?.overhead) {
    const o = parseResourceList(spec.overhead as Record<string, string>, 'spec.overhead');
    if (o.ok) total = addResources(total, o.value);
    else problems.push(o.error.message);
  }
  total = addResources(total, slot);
  return problems.length > 0
    ? { requests: total, problem: problems.join('; ') }
    : { requests: total };
}
