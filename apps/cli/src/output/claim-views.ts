// What each member of a pod set claims through DRA, for `submit --dry-run` and `get`: the pod's
// claims, the template each comes from, and per request the device class, how many, selectors
// and constraints.
import { isRecord } from '@muster/common';
import type { JobSpec, PodSet, ResourceClaimTemplate } from '@muster/api';

type Json = Record<string, unknown>;

/**
 * "every claimed device shares gpu.example.com/interconnect (across members)": the job-wide
 * device constraint, beside what each claim asks for; undefined when the job sets none.
 */
export function jobDeviceConstraint(
  spec: Pick<JobSpec, 'matchDeviceAttribute'> | undefined,
): string | undefined {
  const attribute = spec?.matchDeviceAttribute;
  return attribute ? `every claimed device shares ${attribute} (across members)` : undefined;
}

/** Indented lines under a pod set's line; none when its pods claim nothing. */
export function podSetClaimLines(
  ps: PodSet,
  templates: readonly ResourceClaimTemplate[],
): string[] {
  const pod = field(parse(ps.podTemplateJson), 'spec');
  const out: string[] = [];
  for (const claim of list(pod, 'resourceClaims')) {
    const name = text(claim, 'name') ?? '?';
    const templateName = text(claim, 'resourceClaimTemplateName');
    const template = templates.find((t) => t.name === templateName);
    if (templateName === undefined || template === undefined) {
      out.push(`claim ${name}: template ${templateName ?? '-'} (not carried by the job)`);
      continue;
    }
    out.push(`claim ${name}: template ${templateName}, one claim per member`);
    const devices = field(parse(template.specJson), 'devices');
    for (const request of list(devices, 'requests')) out.push(...requestLines(request));
    for (const constraint of list(devices, 'constraints'))
      out.push(`  ${constraintLine(constraint)}`);
  }
  return out;
}

function requestLines(request: Json): string[] {
  const name = text(request, 'name') ?? '?';
  const exactly = field(request, 'exactly');
  if (exactly)
    return [`  request ${name}: ${devicesWanted(exactly)}`, ...selectorLines(exactly, '    ')];
  const out = [`  request ${name}: the first available of`];
  for (const sub of list(request, 'firstAvailable')) {
    out.push(`    ${text(sub, 'name') ?? '?'}: ${devicesWanted(sub)}`);
    out.push(...selectorLines(sub, '      '));
  }
  return out;
}

/** "2 × gpu.example.com", or "all matching gpu.example.com (allocationMode All)". */
function devicesWanted(request: Json): string {
  const deviceClass = text(request, 'deviceClassName') ?? '?';
  const admin = request.adminAccess === true ? ' (admin access)' : '';
  if (text(request, 'allocationMode') === 'All')
    return `all matching ${deviceClass} (allocationMode All)${admin}`;
  const count = typeof request.count === 'number' ? request.count : 1;
  return `${count} × ${deviceClass}${admin}`;
}

function selectorLines(request: Json, indent: string): string[] {
  return list(request, 'selectors').map(
    (s) => `${indent}where ${text(field(s, 'cel'), 'expression') ?? '?'}`,
  );
}

/** "constraint: gpu, nic share gpu.example.com/numa". */
function constraintLine(constraint: Json): string {
  const requests = Array.isArray(constraint.requests) ? constraint.requests.map(String) : [];
  const which = requests.length > 0 ? requests.join(', ') : 'all requests';
  const match = text(constraint, 'matchAttribute');
  if (match !== undefined) return `constraint: ${which} share ${match}`;
  const distinct = text(constraint, 'distinctAttribute');
  return `constraint: ${which} each a different ${distinct ?? '?'}`;
}

function parse(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

function field(value: unknown, key: string): Json | undefined {
  const child = isRecord(value) ? value[key] : undefined;
  return isRecord(child) ? child : undefined;
}

function list(value: unknown, key: string): Json[] {
  const child = isRecord(value) ? value[key] : undefined;
  return Array.isArray(child) ? child.filter(isRecord) : [];
}

function text(value: unknown, key: string): string | undefined {
  const child = isRecord(value) ? value[key] : undefined;
  return typeof child === 'string' ? child : undefined;
}
