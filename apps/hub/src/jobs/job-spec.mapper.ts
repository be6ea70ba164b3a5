import { OnClusterLost, TopologyMode } from '@muster/api';
import type * as wire from '@muster/api';
import {
  checkPodPolicy,
  checkPodTemplate,
  dns1123LabelError,
  dns1123SubdomainError,
  labelValueError,
  qualifiedNameError,
  type PodPolicy,
} from '@muster/k8s';
import { attributeNameProblem } from '@muster/placement';
import { ErrorCode, MusterError, invalidArgument } from '../common/errors';
import { ClaimError, claimTemplatesOf, podClaimsOf } from './device-claims';
import type {
  GangSpec,
  JobSpec,
  OnClusterLostPolicy,
  PodSetGroupSpec,
  PodSetSpec,
  TopologyConstraint,
} from './job.domain';

/** The SpecLimits from the hub's configuration, for the handlers that check submitted specs. */
export const SPEC_LIMITS = Symbol('SPEC_LIMITS');

export interface SpecLimits {
  maxPodSetsPerGang: number;
  maxMembersPerGang: number;
  /** Pod template policy; unset: no policy (unit tests of the mapper only). */
  podPolicy?: PodPolicy;
  /** Labels plus annotations of one pod template, in bytes. */
  maxTemplateMetadataBytes?: number;
  /** Priority class name → priority (MUSTER_PRIORITY_CLASSES); unset: none defined. */
  priorityClasses?: ReadonlyMap<string, number>;
}

/** Longest client request id accepted. */
export const MAX_CLIENT_REQUEST_ID = 128;
const MAX_LABELS = 64;
const MAX_POD_TEMPLATE_BYTES = 256 * 1024;

/** Validates a wire JobSpec into the domain; throws INVALID_ARGUMENT naming the field. */
export function jobSpecToDomain(spec: wire.JobSpec | undefined, limits: SpecLimits): JobSpec {
  if (!spec) throw invalidArgument('spec', 'is required');
  nameCheck('spec.name', spec.name, dns1123SubdomainError);
  nameCheck('spec.queue', spec.queue, dns1123LabelError);
  const namespace = spec.namespace === '' ? 'default' : spec.namespace;
  nameCheck('spec.namespace', namespace, dns1123LabelError);
  return {
    name: spec.name,
    queue: spec.queue,
    ...priorityToDomain(spec, limits.priorityClasses ?? new Map()),
    onClusterLost: onClusterLostToDomain(spec.onClusterLost),
    labels: labelsToDomain('spec.labels', spec.labels),
    namespace,
    gang: gangToDomain(spec, limits),
    // Left out when 0, so the spec hash of a retried request from before the field is unchanged.
    ...(maxRestartsToDomain(spec.maxRestarts) > 0 ? { maxRestarts: spec.maxRestarts } : {}),
    ...(spec.evictionGraceSeconds !== undefined
      ? {
          evictionGraceSeconds: graceToDomain(
            'spec.eviction_grace_seconds',
            spec.evictionGraceSeconds,
          ),
        }
      : {}),
  };
}

/**
 * The job's priority: its priority class's value when it names one (a class the administrator
 * defined; a different non-zero `priority` beside it is a contradiction), else `priority`.
 */
function priorityToDomain(
  spec: wire.JobSpec,
  classes: ReadonlyMap<string, number>,
): { priority: number; priorityClass?: string } {
  const name = spec.priorityClass ?? '';
  if (name === '') return { priority: spec.priority };
  const value = classes.get(name);
  if (value === undefined)
    throw invalidArgument(
      'spec.priority_class',
      classes.size > 0
        ? `"${name}" is not a priority class (the hub defines ${[...classes.keys()].sort().join(', ')})`
        : `"${name}" is not a priority class (the hub defines none: MUSTER_PRIORITY_CLASSES)`,
    );
  if (spec.priority !== 0 && spec.priority !== value)
    throw invalidArgument(
      'spec.priority',
      `is ${spec.priority}, but priority class "${name}" is ${value}; give one or the other`,
    );
  return { priority: value, priorityClass: name };
}

/** Longest notice an eviction may give (a day: a drain must end). */
export const MAX_EVICTION_GRACE_SECONDS = 86_400;

/** A grace period in seconds, 0 to {@link MAX_EVICTION_GRACE_SECONDS}; throws naming `field`. */
export function graceToDomain(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_EVICTION_GRACE_SECONDS)
    throw invalidArgument(
      field,
      `must be a whole number of seconds between 0 and ${MAX_EVICTION_GRACE_SECONDS} (got ${value})`,
    );
  return value;
}

/** Most restarts a job may ask for. */
export const MAX_RESTARTS = 100;

function maxRestartsToDomain(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_RESTARTS)
    throw invalidArgument(
      'spec.max_restarts',
      `must be between 0 and ${MAX_RESTARTS} (got ${value})`,
    );
  return value;
}

export function clientRequestIdToDomain(id: string): string | null {
  if (id === '') return null;
  if (id.length > MAX_CLIENT_REQUEST_ID) {
    throw invalidArgument(
      'client_request_id',
      `must be at most ${MAX_CLIENT_REQUEST_ID} characters (got ${id.length})`,
    );
  }
  if (!/^[\x21-\x7e]+$/.test(id)) {
    throw invalidArgument('client_request_id', 'must be printable ASCII without spaces');
  }
  return id;
}

function nameCheck(field: string, value: string, rule: (v: string) => string | undefined): void {
  const error = rule(value);
  if (error) throw invalidArgument(field, error);
}

function onClusterLostToDomain(value: OnClusterLost): OnClusterLostPolicy {
  switch (value) {
    case OnClusterLost.ON_CLUSTER_LOST_UNSPECIFIED:
    case OnClusterLost.ON_CLUSTER_LOST_WAIT:
      return 'wait';
    case OnClusterLost.ON_CLUSTER_LOST_REQUEUE:
      return 'requeue';
    default:
      throw invalidArgument(
        'spec.on_cluster_lost',
        `unknown value ${String(value)}; use WAIT or REQUEUE`,
      );
  }
}

export function labelsToDomain(
  field: string,
  labels: Record<string, string>,
): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS)
    throw invalidArgument(field, `at most ${MAX_LABELS} labels (got ${entries.length})`);
  for (const [key, value] of entries) {
    const keyError = qualifiedNameError(key);
    if (keyError) throw invalidArgument(`${field}["${key.slice(0, 80)}"]`, `key ${keyError}`);
    const valueError = labelValueError(value);
    if (valueError) throw invalidArgument(`${field}["${key}"]`, `value ${valueError}`);
  }
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function gangToDomain(spec: wire.JobSpec, limits: SpecLimits): GangSpec {
  if (spec.podSets.length === 0)
    throw invalidArgument('spec.pod_sets', 'must have at least one pod set');
  if (spec.podSets.length > limits.maxPodSetsPerGang) {
    throw invalidArgument(
      'spec.pod_sets',
      `at most ${limits.maxPodSetsPerGang} pod sets per gang (got ${spec.podSets.length})`,
    );
  }
  const templates = claimErrorsNamed('spec.resource_claim_templates', () =>
    claimTemplatesOf(spec.resourceClaimTemplates ?? []),
  );
  const used = new Set<string>();
  const seen = new Set<string>();
  let members = 0;
  const podSets: PodSetSpec[] = spec.podSets.map((ps, i) => {
    const field = `spec.pod_sets[${i}]`;
    nameCheck(`${field}.name`, ps.name, dns1123LabelError);
    if (seen.has(ps.name))
      throw invalidArgument(`${field}.name`, `duplicate pod set name "${ps.name}"`);
    seen.add(ps.name);
    if (!Number.isInteger(ps.count) || ps.count < 1) {
      throw invalidArgument(`${field}.count`, `must be at least 1 (got ${ps.count})`);
    }
    members += ps.count;
    if (members > limits.maxMembersPerGang) {
      throw invalidArgument(
        `${field}.count`,
        `the gang has more than ${limits.maxMembersPerGang} members, the configured maximum`,
      );
    }
    if (ps.podTemplateJson.length > MAX_POD_TEMPLATE_BYTES) {
      throw invalidArgument(
        `${field}.pod_template_json`,
        `must be at most ${MAX_POD_TEMPLATE_BYTES} bytes`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(ps.podTemplateJson);
    } catch (err) {
      // V8's message quotes the input, which may hold secrets (env values): keep the position.
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      throw invalidArgument(
        `${field}.pod_template_json`,
        `is not valid JSON${at === undefined ? '' : ` (at position ${at})`}`,
      );
    }
    const checked = checkPodTemplate(parsed, {
      maxMetadataBytes: limits.maxTemplateMetadataBytes,
    });
    if (!checked.ok)
      throw invalidArgument(
        `${field}.pod_template_json.${checked.violation.field}`.replace(/\.$/, ''),
        checked.violation.message,
      );
    if (limits.podPolicy) {
      const refused = checkPodPolicy(checked.value.template, limits.podPolicy);
      if (refused)
        throw new MusterError(
          ErrorCode.PermissionDenied,
          refused.message,
          `${field}.pod_template_json.${refused.field}`,
        );
    }
    const claims = claimErrorsNamed(`${field}.pod_template_json.`, () =>
      podClaimsOf(checked.value.template, templates),
    );
    for (const c of claims) used.add(podClaimTemplate(checked.value.template, c.name));
    const topology = topologyToDomain(`${field}.topology`, ps.topology);
    return {
      name: ps.name,
      count: ps.count,
      template: checked.value.template,
      requests: checked.value.requests,
      ...(topology ? { topology } : {}),
    };
  });
  if (spec.podSetGroups.length > 1) {
    throw invalidArgument(
      'spec.pod_set_groups',
      'at most one group of pod sets sharing a domain is supported',
    );
  }
  const groups: PodSetGroupSpec[] = spec.podSetGroups.map((g, i) => {
    const field = `spec.pod_set_groups[${i}]`;
    if (g.podSets.length < 2)
      throw invalidArgument(`${field}.pod_sets`, 'must name at least two pod sets');
    g.podSets.forEach((name, j) => {
      if (!seen.has(name))
        throw invalidArgument(`${field}.pod_sets[${j}]`, `no pod set named "${name}"`);
    });
    const levelError = qualifiedNameError(g.level);
    if (levelError) throw invalidArgument(`${field}.level`, levelError);
    return { podSets: [...g.podSets], level: g.level };
  });
  templates.forEach((t, i) => {
    if (!used.has(t.name))
      throw invalidArgument(
        `spec.resource_claim_templates[${i}].name`,
        `template "${t.name}" is not named by any pod template's spec.resourceClaims`,
      );
  });
  const attribute = spec.matchDeviceAttribute ?? '';
  if (attribute !== '') {
    const problem = attributeNameProblem(attribute);
    if (problem) throw invalidArgument('spec.match_device_attribute', problem);
    if (used.size === 0)
      throw invalidArgument(
        'spec.match_device_attribute',
        'no pod set claims devices (spec.resourceClaims in a pod template); remove it or add claims',
      );
  }
  // Left out when there are none, so the spec hash of a retried request from before is unchanged.
  return {
    podSets,
    groups,
    ...(templates.length > 0 ? { claimTemplates: templates } : {}),
    ...(attribute !== '' ? { matchDeviceAttribute: attribute } : {}),
  };
}

/** Runs a claim check, turning its ClaimError into INVALID_ARGUMENT on `prefix` + its field. */
function claimErrorsNamed<T>(prefix: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof ClaimError)
      throw invalidArgument(`${prefix}${e.field}`.replace(/\.$/, '').replace('.[', '['), e.message);
    throw e;
  }
}

/** The template a pod template's claim `name` is made from (checked by podClaimsOf). */
function podClaimTemplate(template: Record<string, unknown>, name: string): string {
  const spec = template.spec as {
    resourceClaims?: { name: string; resourceClaimTemplateName: string }[];
  };
  return spec.resourceClaims?.find((c) => c.name === name)?.resourceClaimTemplateName ?? '';
}

function topologyToDomain(
  field: string,
  t: { mode: TopologyMode; level: string } | undefined,
): TopologyConstraint | undefined {
  if (!t || (t.mode === TopologyMode.TOPOLOGY_MODE_UNSPECIFIED && t.level === '')) return undefined;
  let mode: TopologyConstraint['mode'];
  switch (t.mode) {
    case TopologyMode.TOPOLOGY_MODE_REQUIRED:
      mode = 'required';
      break;
    case TopologyMode.TOPOLOGY_MODE_PREFERRED:
      mode = 'preferred';
      break;
    default:
      throw invalidArgument(`${field}.mode`, 'must be REQUIRED or PREFERRED when a level is given');
  }
  const levelError = qualifiedNameError(t.level);
  if (levelError)
    throw invalidArgument(
      `${field}.level`,
      `${levelError} (a node label key such as cloud.provider.com/topology-rack)`,
    );
  return { mode, level: t.level };
}
