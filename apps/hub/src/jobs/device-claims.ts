// DRA claims of a job: the ResourceClaimTemplates it carries (resource.k8s.io/v1 ResourceClaimSpec
// JSON) checked and turned into placement's DeviceClaim, and each pod template's
// spec.resourceClaims resolved against them. Used at submit (refusals name the field) and when a
// cycle reads a stored gang (the same conversion, so placement sees what was checked).
import { isRecord } from '@muster/common';
import { dns1123SubdomainError } from '@muster/k8s';
import {
  claimsProblem,
  type DeviceClaim,
  type DeviceConstraint,
  type DeviceRequest,
  type ExactDeviceRequest,
} from '@muster/placement';
import type { ClaimTemplateSpec } from './job.domain';

/** Most claim templates one job may carry. */
export const MAX_CLAIM_TEMPLATES = 32;
const MAX_CLAIM_TEMPLATE_BYTES = 64 * 1024;

/** A refusal: the field below the given prefix and what is wrong. */
export class ClaimError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Parses the wire templates ({name, specJson}); throws ClaimError naming the field. */
export function claimTemplatesOf(
  wire: readonly { name: string; specJson: string }[],
): ClaimTemplateSpec[] {
  if (wire.length > MAX_CLAIM_TEMPLATES)
    throw new ClaimError('', `at most ${MAX_CLAIM_TEMPLATES} claim templates per job`);
  const seen = new Set<string>();
  return wire.map((t, i) => {
    const f = `[${i}]`;
    const nameError = dns1123SubdomainError(t.name);
    if (nameError) throw new ClaimError(`${f}.name`, nameError);
    if (seen.has(t.name)) throw new ClaimError(`${f}.name`, `template "${t.name}" is given twice`);
    seen.add(t.name);
    if (t.specJson.length > MAX_CLAIM_TEMPLATE_BYTES)
      throw new ClaimError(`${f}.spec_json`, `must be at most ${MAX_CLAIM_TEMPLATE_BYTES} bytes`);
    let spec: unknown;
    try {
      spec = JSON.parse(t.specJson);
    } catch {
      throw new ClaimError(`${f}.spec_json`, 'is not valid JSON (a ResourceClaimSpec)');
    }
    if (!isRecord(spec))
      throw new ClaimError(
        `${f}.spec_json`,
        'must be a ResourceClaimSpec object ({"devices": ...})',
      );
    const claim = deviceClaimOf(t.name, spec, `${f}.spec_json`);
    const problem = claimsProblem([claim]);
    if (problem)
      throw new ClaimError(
        `${f}.spec_json.devices${problemField(problem.field)}`,
        `template ${t.name}: ${problem.message}`,
      );
    return { name: t.name, spec };
  });
}

/** `[0].requests[1].exactly.count` (a path of claimsProblem) below `devices`. */
function problemField(field: string): string {
  return field.replace(/^\[0\]/, '');
}

/** A ResourceClaimSpec as placement's DeviceClaim (named after the pod's claim). */
export function deviceClaimOf(
  name: string,
  spec: Record<string, unknown>,
  field = '',
): DeviceClaim {
  const devices = spec.devices;
  if (!isRecord(devices))
    throw new ClaimError(`${field}.devices`, 'is required (requests of devices)');
  if (devices.config !== undefined && !Array.isArray(devices.config))
    throw new ClaimError(`${field}.devices.config`, 'must be a list');
  const requests = devices.requests;
  if (!Array.isArray(requests) || requests.length === 0)
    throw new ClaimError(`${field}.devices.requests`, 'must list at least one request');
  const constraints = devices.constraints ?? [];
  if (!Array.isArray(constraints))
    throw new ClaimError(`${field}.devices.constraints`, 'must be a list');
  return {
    name,
    requests: requests.map((r, i) => requestOf(r, `${field}.devices.requests[${i}]`)),
    constraints: constraints.map((c, i): DeviceConstraint => {
      const cf = `${field}.devices.constraints[${i}]`;
      if (!isRecord(c)) throw new ClaimError(cf, 'must be an object');
      if (c.distinctAttribute !== undefined)
        throw new ClaimError(`${cf}.distinctAttribute`, 'is not supported by Muster yet');
      if (typeof c.matchAttribute !== 'string')
        throw new ClaimError(`${cf}.matchAttribute`, 'is required (a qualified attribute name)');
      const names = c.requests ?? [];
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))
        throw new ClaimError(`${cf}.requests`, 'must be a list of request names');
      return { matchAttribute: c.matchAttribute, requests: names as string[] };
    }),
  };
}

function requestOf(r: unknown, field: string): DeviceRequest {
  if (!isRecord(r) || typeof r.name !== 'string')
    throw new ClaimError(`${field}.name`, 'a request needs a name');
  if (r.exactly !== undefined)
    return { name: r.name, exactly: exactOf(r.exactly, `${field}.exactly`) };
  if (r.firstAvailable !== undefined) {
    if (!Array.isArray(r.firstAvailable))
      throw new ClaimError(`${field}.firstAvailable`, 'must be a list of alternatives');
    return {
      name: r.name,
      firstAvailable: r.firstAvailable.map((a, i) => {
        const af = `${field}.firstAvailable[${i}]`;
        if (!isRecord(a) || typeof a.name !== 'string')
          throw new ClaimError(`${af}.name`, 'an alternative needs a name');
        return { name: a.name, ...exactOf(a, af) };
      }),
    };
  }
  throw new ClaimError(field, `request ${r.name} needs exactly or firstAvailable`);
}

function exactOf(e: unknown, field: string): ExactDeviceRequest {
  if (!isRecord(e)) throw new ClaimError(field, 'must be an object');
  if (typeof e.deviceClassName !== 'string' || e.deviceClassName === '')
    throw new ClaimError(`${field}.deviceClassName`, 'is required');
  if (e.capacity !== undefined)
    throw new ClaimError(`${field}.capacity`, 'consumable capacity is not supported by Muster yet');
  if (e.tolerations !== undefined)
    throw new ClaimError(`${field}.tolerations`, 'device taints are not supported by Muster yet');
  if (e.adminAccess === true)
    throw new ClaimError(`${field}.adminAccess`, 'admin access is not supported by Muster');
  const selectors = e.selectors ?? [];
  if (!Array.isArray(selectors)) throw new ClaimError(`${field}.selectors`, 'must be a list');
  const cel = selectors.map((s, i) => {
    if (!isRecord(s) || !isRecord(s.cel) || typeof s.cel.expression !== 'string')
      throw new ClaimError(`${field}.selectors[${i}].cel.expression`, 'is required');
    return s.cel.expression;
  });
  const mode = e.allocationMode ?? 'ExactCount';
  if (mode !== 'ExactCount' && mode !== 'All')
    throw new ClaimError(`${field}.allocationMode`, 'must be ExactCount or All');
  if (e.count !== undefined && (typeof e.count !== 'number' || !Number.isInteger(e.count)))
    throw new ClaimError(`${field}.count`, 'must be an integer');
  return {
    deviceClassName: e.deviceClassName,
    ...(cel.length > 0 ? { selectors: cel } : {}),
    ...(mode === 'All' ? { allocationMode: 'All' as const } : {}),
    ...(typeof e.count === 'number' ? { count: e.count } : {}),
  };
}

/**
 * The claims one member of a pod template makes, resolved against the job's templates; throws
 * ClaimError with the field below the template (`spec.resourceClaims[0]...`).
 */
export function podClaimsOf(
  template: Record<string, unknown>,
  templates: readonly ClaimTemplateSpec[],
): DeviceClaim[] {
  const spec = isRecord(template.spec) ? template.spec : {};
  const list = spec.resourceClaims ?? [];
  if (!Array.isArray(list)) throw new ClaimError('spec.resourceClaims', 'must be a list');
  const byName = new Map(templates.map((t) => [t.name, t]));
  const names = new Set<string>();
  const claims = list.map((c, i): DeviceClaim => {
    const f = `spec.resourceClaims[${i}]`;
    if (!isRecord(c) || typeof c.name !== 'string' || c.name === '')
      throw new ClaimError(`${f}.name`, 'a pod claim needs a name');
    if (names.has(c.name)) throw new ClaimError(`${f}.name`, `claim "${c.name}" is named twice`);
    names.add(c.name);
    if (c.resourceClaimName !== undefined)
      throw new ClaimError(
        `${f}.resourceClaimName`,
        'a pre-made ResourceClaim lives in one cluster and cannot follow the gang to the cluster Muster chooses; use resourceClaimTemplateName',
      );
    if (typeof c.resourceClaimTemplateName !== 'string')
      throw new ClaimError(`${f}.resourceClaimTemplateName`, 'is required');
    const t = byName.get(c.resourceClaimTemplateName);
    if (!t)
      throw new ClaimError(
        `${f}.resourceClaimTemplateName`,
        `names template "${c.resourceClaimTemplateName}", which the job does not carry`,
      );
    return deviceClaimOf(c.name, t.spec);
  });
  for (const [kind, containers] of [
    ['containers', spec.containers],
    ['initContainers', spec.initContainers],
  ] as const) {
    if (!Array.isArray(containers)) continue;
    containers.forEach((ct, i) => {
      const refs = isRecord(ct) && isRecord(ct.resources) ? ct.resources.claims : undefined;
      if (refs === undefined) return;
      if (!Array.isArray(refs))
        throw new ClaimError(`spec.${kind}[${i}].resources.claims`, 'must be a list');
      refs.forEach((r, j) => {
        if (!isRecord(r) || typeof r.name !== 'string' || !names.has(r.name))
          throw new ClaimError(
            `spec.${kind}[${i}].resources.claims[${j}].name`,
            `must name one of the pod's spec.resourceClaims (${[...names].join(', ') || 'none'})`,
          );
      });
    });
  }
  return claims;
}
