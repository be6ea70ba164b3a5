// Checks a pod template before Muster stores it, and computes what one member requests the way
// the Kubernetes scheduler counts it, so placement and the API server agree.
import { isRecord } from '@muster/common';
import {
  formatQuantity,
  nodeAffinityProblem,
  parseResourceQuantity,
  type RequiredNodeAffinity,
  type ResourceList,
} from '@muster/placement';
import { dns1123LabelError, labelValueError, qualifiedNameError } from './names';
import { effectiveRequests, POD_LEVEL_RESOURCES, type InitRequests } from './pod-requests';

export * from './pod-policy';
export * from './pod-requests';

export interface FieldViolation {
  /** Path inside the template, e.g. "spec.containers[0].resources.requests.cpu". */
  field: string;
  message: string;
}

export interface CheckedPodTemplate {
  template: Record<string, unknown>;
  /**
   * Effective requests of one pod as the kube-scheduler counts them (see pod-requests.ts):
   * containers, init containers and sidecars, pod-level requests, overhead, and `pods: "1"`.
   */
  requests: Record<string, string>;
}

export type PodTemplateResult =
  { ok: true; value: CheckedPodTemplate } | { ok: false; violation: FieldViolation };

/** Deepest nesting accepted in a template; deeper JSON is refused rather than walked. */
export const MAX_TEMPLATE_DEPTH = 32;
const MAX_CONTAINERS = 64;
/** Most labels on a template (as for the job's own labels). */
export const MAX_TEMPLATE_LABELS = 64;
/** Default bound of the template's labels and annotations together (keys and values, UTF-8 bytes). */
export const DEFAULT_MAX_TEMPLATE_METADATA_BYTES = 64 * 1024;

export interface PodTemplateLimits {
  /** Labels plus annotations of the template, keys and values, in UTF-8 bytes. */
  maxMetadataBytes?: number;
}

class Violation extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored (Postgres refuses NUL and unpaired surrogates), or undefined. */
export function unstorableStringError(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (UNPAIRED_SURROGATE.test(s)) return 'must be valid Unicode (it has an unpaired surrogate)';
  return undefined;
}

/**
 * Walks the template without recursion: refuses nesting deeper than `limit` and strings (keys
 * and values) that cannot be stored.
 */
function scan(v: unknown, limit: number): void {
  const stack: [unknown, number, string][] = [[v, 1, '']];
  while (stack.length > 0) {
    const [node, depth, path] = stack.pop()!;
    if (depth > limit) throw new Violation('', `is nested deeper than ${limit} levels`);
    if (typeof node === 'string') {
      const error = unstorableStringError(node);
      if (error) throw new Violation(path, error);
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push([child, depth + 1, `${path}[${i}]`]));
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) {
        const keyError = unstorableStringError(key);
        if (keyError) throw new Violation(path, `key ${keyError}`);
        stack.push([child, depth + 1, path === '' ? key : `${path}.${key}`]);
      }
    }
  }
}

function stringMap(field: string, value: unknown): [string, string][] {
  if (value === undefined || value === null) return [];
  if (!isRecord(value)) throw new Violation(field, 'must be a map of string to string');
  const entries = Object.entries(value);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new Violation(`${field}.${k}`, 'must be a string');
  }
  return entries as [string, string][];
}

/** Labels and annotations of the template: Kubernetes key and value rules, and a size bound. */
function checkMetadata(metadata: Record<string, unknown>, limits: PodTemplateLimits): void {
  const labels = stringMap('metadata.labels', metadata.labels);
  if (labels.length > MAX_TEMPLATE_LABELS)
    throw new Violation(
      'metadata.labels',
      `at most ${MAX_TEMPLATE_LABELS} labels (got ${labels.length})`,
    );
  for (const [k, v] of labels) {
    const keyError = qualifiedNameError(k);
    if (keyError) throw new Violation(`metadata.labels.${k.slice(0, 80)}`, `key ${keyError}`);
    const valueError = labelValueError(v);
    if (valueError) throw new Violation(`metadata.labels.${k}`, `value ${valueError}`);
  }
  const annotations = stringMap('metadata.annotations', metadata.annotations);
  for (const [k] of annotations) {
    const keyError = qualifiedNameError(k);
    if (keyError) throw new Violation(`metadata.annotations.${k.slice(0, 80)}`, `key ${keyError}`);
  }
  const max = limits.maxMetadataBytes ?? DEFAULT_MAX_TEMPLATE_METADATA_BYTES;
  let bytes = 0;
  for (const [k, v] of [...labels, ...annotations])
    bytes += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8');
  if (bytes > max) {
    throw new Violation(
      'metadata',
      `labels and annotations must total at most ${max} bytes (got ${bytes})`,
    );
  }
}

/**
 * A map of resource name to quantity, parsed with the scheduler's rounding. A fractional amount
 * of an extended resource is refused here, as the API server refuses it, so that what is stored
 * is exactly what the scheduling cycle will count.
 */
function resourceMap(field: string, value: unknown, container = false): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (value === undefined || value === null) return out;
  if (!isRecord(value)) throw new Violation(field, 'must be a map of resource name to quantity');
  for (const [name, raw] of Object.entries(value)) {
    const f = `${field}.${name}`;
    if (typeof raw !== 'string' && typeof raw !== 'number')
      throw new Violation(f, 'must be a quantity such as "500m" or "2Gi"');
    if (container && name === 'pods')
      throw new Violation(f, 'is not a container resource; every member takes one pod slot');
    const parsed = parseResourceQuantity(name, raw, f);
    if (!parsed.ok)
      throw new Violation(
        f,
        parsed.error.message.startsWith(`${f}: `)
          ? parsed.error.message.slice(f.length + 2)
          : parsed.error.message,
      );
    if (parsed.value < 0n) throw new Violation(f, 'must not be negative');
    out.set(name, parsed.value);
  }
  return out;
}

/** Requests of one container; Kubernetes defaults a missing request to the limit. */
function containerRequests(field: string, c: Record<string, unknown>): Map<string, bigint> {
  const resources = c.resources;
  if (resources === undefined || resources === null) return new Map();
  if (!isRecord(resources)) throw new Violation(`${field}.resources`, 'must be an object');
  const requests = resourceMap(`${field}.resources.requests`, resources.requests, true);
  const limits = resourceMap(`${field}.resources.limits`, resources.limits, true);
  for (const [name, limit] of limits) {
    const request = requests.get(name);
    if (request === undefined) requests.set(name, limit);
    else if (request > limit)
      throw new Violation(`${field}.resources.requests.${name}`, 'must not exceed the limit');
  }
  return requests;
}

function containers(
  field: string,
  value: unknown,
  required: boolean,
  names: Set<string>,
): { requests: Map<string, bigint>; sidecar: boolean }[] {
  if (value === undefined || value === null) {
    if (required) throw new Violation(field, 'must list at least one container');
    return [];
  }
  if (!Array.isArray(value)) throw new Violation(field, 'must be a list');
  if (required && value.length === 0)
    throw new Violation(field, 'must list at least one container');
  if (value.length > MAX_CONTAINERS)
    throw new Violation(field, `at most ${MAX_CONTAINERS} containers`);
  return value.map((c, i) => {
    const f = `${field}[${i}]`;
    if (!isRecord(c)) throw new Violation(f, 'must be an object');
    if (typeof c.name !== 'string') throw new Violation(`${f}.name`, 'is required');
    const nameError = dns1123LabelError(c.name);
    if (nameError) throw new Violation(`${f}.name`, nameError);
    if (names.has(c.name)) throw new Violation(`${f}.name`, `duplicate container name "${c.name}"`);
    names.add(c.name);
    if (typeof c.image !== 'string' || c.image.trim() === '')
      throw new Violation(`${f}.image`, 'is required');
    return { requests: containerRequests(f, c), sidecar: c.restartPolicy === 'Always' };
  });
}

function listOf(m: Map<string, bigint>): ResourceList {
  return Object.fromEntries(m);
}

/** spec.resources (pod-level requests and limits): cpu and memory only, as Kubernetes allows. */
function podLevelRequests(value: unknown): ResourceList {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new Violation('spec.resources', 'must be an object');
  const requests = resourceMap('spec.resources.requests', value.requests);
  const limits = resourceMap('spec.resources.limits', value.limits);
  for (const name of [...requests.keys(), ...limits.keys()]) {
    if (!POD_LEVEL_RESOURCES.has(name))
      throw new Violation(
        `spec.resources.${requests.has(name) ? 'requests' : 'limits'}.${name}`,
        'pod-level resources may set only cpu and memory',
      );
  }
  for (const [name, limit] of limits) if (!requests.has(name)) requests.set(name, limit);
  return listOf(requests);
}

const REQUIRED_AFFINITY =
  'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution';

/**
 * The required node affinity of a pod spec (unchecked: run {@link checkPodTemplate} first), or
 * undefined. Placement honours it as the kube-scheduler's NodeAffinity filter does.
 */
export function requiredNodeAffinityOf(spec: unknown): RequiredNodeAffinity | undefined {
  if (!isRecord(spec) || !isRecord(spec.affinity) || !isRecord(spec.affinity.nodeAffinity)) {
    return undefined;
  }
  const required = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  return required === undefined || required === null
    ? undefined
    : (required as unknown as RequiredNodeAffinity);
}

/** Validates a PodTemplateSpec ({metadata, spec}) and computes a member's effective requests. */
export function checkPodTemplate(
  template: unknown,
  limits: PodTemplateLimits = {},
): PodTemplateResult {
  try {
    if (!isRecord(template))
      throw new Violation('', 'must be a JSON object with "spec" (a core/v1 PodTemplateSpec)');
    scan(template, MAX_TEMPLATE_DEPTH);
    if (template.metadata !== undefined && !isRecord(template.metadata))
      throw new Violation('metadata', 'must be an object');
    if (isRecord(template.metadata)) checkMetadata(template.metadata, limits);
    const spec = template.spec;
    if (!isRecord(spec)) throw new Violation('spec', 'is required (a core/v1 PodSpec)');
    if (spec.nodeName !== undefined && spec.nodeName !== '') {
      throw new Violation('spec.nodeName', 'must not be set; Muster chooses the node');
    }
    if (spec.nodeSelector !== undefined) {
      if (
        !isRecord(spec.nodeSelector) ||
        Object.values(spec.nodeSelector).some((v) => typeof v !== 'string')
      ) {
        throw new Violation('spec.nodeSelector', 'must be a map of label key to string value');
      }
    }
    if (spec.tolerations !== undefined && !Array.isArray(spec.tolerations)) {
      throw new Violation('spec.tolerations', 'must be a list');
    }
    const affinity = requiredNodeAffinityOf(spec);
    if (affinity !== undefined) {
      const problem = nodeAffinityProblem(affinity);
      if (problem) throw new Violation(`${REQUIRED_AFFINITY}${problem.field}`, problem.message);
    }
    const names = new Set<string>();
    const main = containers('spec.containers', spec.containers, true, names);
    const init = containers('spec.initContainers', spec.initContainers, false, names);
    const sum = effectiveRequests({
      containers: main.map((c) => listOf(c.requests)),
      initContainers: init.map((c): InitRequests => ({
        requests: listOf(c.requests),
        sidecar: c.sidecar,
      })),
      podLevel: podLevelRequests(spec.resources),
      overhead: listOf(resourceMap('spec.overhead', spec.overhead)),
    });
    const requests: Record<string, string> = {};
    for (const name of Object.keys(sum).sort()) requests[name] = formatQuantity(sum[name]!, name);
    return { ok: true, value: { template, requests } };
  } catch (e) {
    if (e instanceof Violation)
      return { ok: false, violation: { field: e.field, message: e.message } };
    throw e;
  }
}
