// The pod security policy Muster applies to every pod template before it stores a job: a job
// runs with the agent's rights in a worker cluster, so what a template may ask for is decided
// here, not by whoever submits it. The rules follow the Kubernetes Pod Security Standards
// ("baseline" level) for the fields a batch job has no business setting.
import { isRecord } from '@muster/common';
import type { FieldViolation } from './pod-template';

/** The names of the rules, as they appear in messages and in configuration. */
export const POD_POLICY_RULES = [
  'no-privileged',
  'no-privilege-escalation',
  'no-host-namespaces',
  'no-host-path',
  'no-host-ports',
  'allowed-capabilities',
] as const;

export type PodPolicyRule = (typeof POD_POLICY_RULES)[number];

export interface PodPolicy {
  /** Rules that are on; every rule is on by default. */
  enabled: ReadonlySet<PodPolicyRule>;
  /** Capabilities a container may add (rule "allowed-capabilities"), upper case without "CAP_". */
  allowedCapabilities: ReadonlySet<string>;
}

/** The Pod Security Standards "baseline" list of capabilities a container may add. */
export const BASELINE_CAPABILITIES: readonly string[] = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];

export function defaultPodPolicy(): PodPolicy {
  return {
    enabled: new Set(POD_POLICY_RULES),
    allowedCapabilities: new Set(BASELINE_CAPABILITIES),
  };
}

/**
 * A policy from configuration: rule names to turn off and the capabilities to allow instead of
 * the baseline list. Throws an Error naming an unknown rule.
 */
export function podPolicyOf(
  disabled: readonly string[],
  allowedCapabilities?: readonly string[],
): PodPolicy {
  const enabled = new Set<PodPolicyRule>(POD_POLICY_RULES);
  for (const name of disabled) {
    if (!(POD_POLICY_RULES as readonly string[]).includes(name)) {
      throw new Error(`unknown pod policy rule "${name}"; rules: ${POD_POLICY_RULES.join(', ')}`);
    }
    enabled.delete(name as PodPolicyRule);
  }
  return {
    enabled,
    allowedCapabilities: new Set(
      (allowedCapabilities ?? BASELINE_CAPABILITIES).map(normaliseCapability),
    ),
  };
}

export interface PolicyViolation extends FieldViolation {
  rule: PodPolicyRule;
}

const RULE_MESSAGES: Record<PodPolicyRule, string> = {
  'no-privileged': 'privileged containers are not allowed',
  'no-privilege-escalation': 'containers may not allow privilege escalation',
  'no-host-namespaces': "sharing the node's network, PID or IPC namespace is not allowed",
  'no-host-path': 'hostPath volumes are not allowed',
  'no-host-ports': 'host ports are not allowed',
  'allowed-capabilities': 'adding this capability is not allowed',
};

function normaliseCapability(c: string): string {
  const upper = c.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

/** Formats a rule violation the way the hub reports it. */
export function policyMessage(rule: PodPolicyRule, detail?: string): string {
  return `${RULE_MESSAGES[rule]}${detail ? ` (${detail})` : ''} (policy rule "${rule}")`;
}

/**
 * Checks a pod template (already validated by checkPodTemplate) against the policy. Returns the
 * first violation, its field a path inside the template, or undefined when the template passes.
 */
export function checkPodPolicy(template: unknown, policy: PodPolicy): PolicyViolation | undefined {
  if (!isRecord(template) || !isRecord(template.spec)) return undefined;
  const spec = template.spec;
  const on = (rule: PodPolicyRule) => policy.enabled.has(rule);
  const violation = (rule: PodPolicyRule, field: string, detail?: string): PolicyViolation => ({
    rule,
    field,
    message: policyMessage(rule, detail),
  });

  if (on('no-host-namespaces')) {
    for (const key of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
      if (spec[key] !== undefined && spec[key] !== false && spec[key] !== null)
        return violation('no-host-namespaces', `spec.${key}`);
    }
  }
  if (on('no-host-path') && Array.isArray(spec.volumes)) {
    for (const [i, v] of spec.volumes.entries()) {
      if (isRecord(v) && v.hostPath !== undefined && v.hostPath !== null)
        return violation('no-host-path', `spec.volumes[${i}].hostPath`);
    }
  }
  for (const list of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    const value = spec[list];
    if (!Array.isArray(value)) continue;
    for (const [i, c] of value.entries()) {
      if (!isRecord(c)) continue;
      const f = `spec.${list}[${i}]`;
      const found = checkContainer(f, c, policy, on, violation);
      if (found) return found;
    }
  }
  return undefined;
}

function checkContainer(
  f: string,
  c: Record<string, unknown>,
  policy: PodPolicy,
  on: (rule: PodPolicyRule) => boolean,
  violation: (rule: PodPolicyRule, field: string, detail?: string) => PolicyViolation,
): PolicyViolation | undefined {
  const sc = c.securityContext;
  if (isRecord(sc)) {
    if (
      on('no-privileged') &&
      sc.privileged !== undefined &&
      sc.privileged !== false &&
      sc.privileged !== null
    )
      return violation('no-privileged', `${f}.securityContext.privileged`);
    if (
      on('no-privilege-escalation') &&
      sc.allowPrivilegeEscalation !== undefined &&
      sc.allowPrivilegeEscalation !== false &&
      sc.allowPrivilegeEscalation !== null
    )
      return violation('no-privilege-escalation', `${f}.securityContext.allowPrivilegeEscalation`);
    if (on('allowed-capabilities') && isRecord(sc.capabilities)) {
      const add = sc.capabilities.add;
      if (add !== undefined && add !== null) {
        if (!Array.isArray(add))
          return violation(
            'allowed-capabilities',
            `${f}.securityContext.capabilities.add`,
            'must be a list of capability names',
          );
        for (const [j, cap] of add.entries()) {
          const name = typeof cap === 'string' ? normaliseCapability(cap) : '';
          if (!policy.allowedCapabilities.has(name)) {
            return violation(
              'allowed-capabilities',
              `${f}.securityContext.capabilities.add[${j}]`,
              typeof cap === 'string'
                ? `"${cap.slice(0, 64)}" is not one of ${[...policy.allowedCapabilities].join(', ') || 'none'}`
                : 'must be a capability name',
            );
          }
        }
      }
    }
  }
  if (on('no-host-ports') && Array.isArray(c.ports)) {
    for (const [j, p] of c.ports.entries()) {
      if (isRecord(p) && p.hostPort !== undefined && p.hostPort !== null && p.hostPort !== 0)
        return violation('no-host-ports', `${f}.ports[${j}].hostPort`);
    }
  }
  return undefined;
}
