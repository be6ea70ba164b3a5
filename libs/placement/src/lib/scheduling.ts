/**
 * Node filters with Kubernetes semantics: node selectors, required node affinity and
 * taints/tolerations.
 * Kept separate and exported so agents and tests can check a single node the same way the
 * placement does.
 */
import type { NodeSelectorRequirement, RequiredNodeAffinity, Taint, Toleration } from './model';

/** True for effects that keep a pod off a node unless tolerated (`NoSchedule`, `NoExecute`). */
export function isHardTaint(taint: Taint): boolean {
  return taint.effect === 'NoSchedule' || taint.effect === 'NoExecute';
}

/** Kubernetes `Toleration.ToleratesTaint`: effect, then key, then operator/value. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  const op = toleration.operator ?? 'Equal';
  if (op === 'Exists') return true;
  if (op === 'Equal') return (toleration.value ?? '') === (taint.value ?? '');
  return false;
}

/** The first `NoSchedule`/`NoExecute` taint no toleration matches, or `undefined`. */
export function firstUntoleratedTaint(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[] | undefined,
): Taint | undefined {
  if (!taints) return undefined;
  for (const taint of taints) {
    if (!isHardTaint(taint)) continue;
    if (!(tolerations ?? []).some((t) => toleratesTaint(t, taint))) return taint;
  }
  return undefined;
}

/** True when every hard taint is tolerated (`PreferNoSchedule` never blocks). */
export function toleratesAll(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[] | undefined,
): boolean {
  return firstUntoleratedTaint(taints, tolerations) === undefined;
}

/** True when the node has every selector label with exactly the selector's value. */
export function matchesNodeSelector(
  labels: Readonly<Record<string, string>> | undefined,
  selector: Readonly<Record<string, string>> | undefined,
): boolean {
  if (!selector) return true;
  for (const key of Object.keys(selector)) {
    if (!labels || !Object.prototype.hasOwnProperty.call(labels, key)) return false;
    if (labels[key] !== selector[key]) return false;
  }
  return true;
}

/** `key=value:Effect`, the kubectl form, for explanations. */
export function formatTaint(taint: Taint): string {
  return `${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`;
}

/** `a=1,b=2` in key order, for explanations. */
export function formatSelector(selector: Readonly<Record<string, string>>): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}

/** One requirement against a value that may be absent (`undefined`), as the scheduler reads it. */
function requirementHolds(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      // Kubernetes parses both sides as integers; a label that is not one never matches.
      if (value === undefined || !/^-?\d{1,18}$/.test(value)) return false;
      const have = BigInt(value);
      const bound = BigInt(values[0] ?? '0');
      return r.operator === 'Gt' ? have > bound : have < bound;
    }
  }
}

/**
 * Kubernetes `RequiredDuringSchedulingIgnoredDuringExecution` node affinity: some term whose
 * expressions (on labels) and fields (`metadata.name`) all hold. An empty term matches nothing.
 */
export function matchesNodeAffinity(
  nodeName: string,
  labels: Readonly<Record<string, string>> | undefined,
  affinity: RequiredNodeAffinity | undefined,
): boolean {
  if (!affinity) return true;
  const label = (key: string): string | undefined =>
    labels && Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
  return affinity.nodeSelectorTerms.some((term) => {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return (
      exprs.every((r) => requirementHolds(r, label(r.key))) &&
      fields.every((r) => requirementHolds(r, r.key === 'metadata.name' ? nodeName : undefined))
    );
  });
}

/** `zone In (a,b); gpu Exists`, terms joined by ` or `, for explanations. */
export function formatNodeAffinity(affinity: RequiredNodeAffinity): string {
  const req = (r: NodeSelectorRequirement): string =>
    r.values && r.values.length > 0
      ? `${r.key} ${r.operator} (${r.values.join(',')})`
      : `${r.key} ${r.operator}`;
  return affinity.nodeSelectorTerms
    .map((t) => [...(t.matchExpressions ?? []), ...(t.matchFields ?? [])].map(req).join('; '))
    .join(' or ');
}
