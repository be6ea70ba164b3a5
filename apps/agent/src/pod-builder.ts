// Turns a Dispatch into the exact Pod objects of its members: labelled, annotated, pinned to the
// placement's node (required node affinity on metadata.name — never spec.nodeName, which would
// bypass the scheduling gate) or topology domain (nodeSelector), and held by the Muster gate.
// The dispatch's ResourceClaimTemplates become the gang's own copies (named per gang and token),
// and every member's spec.resourceClaims[].resourceClaimTemplateName is renamed to them.
import { isRecord } from '@muster/common';
import { OnClusterLost, type Dispatch } from '@muster/api';
import {
  dns1123LabelError,
  dns1123SubdomainError,
  labelValueError,
  qualifiedNameError,
} from '@muster/k8s';
import {
  ANNOTATION_CLAIM_TEMPLATE,
  ANNOTATION_FENCE_DELETE_GRACE_S,
  ANNOTATION_GANG_SIZE,
  ANNOTATION_ON_CLUSTER_LOST,
  ANNOTATION_SELF_FENCE_TIMEOUT_MS,
  LABEL_FENCING_TOKEN,
  LABEL_GANG_ID,
  LABEL_JOB_ID,
  LABEL_MEMBER_INDEX,
  LABEL_POD_SET,
  SCHEDULING_GATE,
  type OnClusterLostPolicy,
} from './constants';
import type { FenceTerms } from './fencing';
import { claimTemplateName, gangPodGroupName, memberPodName } from './naming';

export const DEFAULT_NAMESPACE = 'default';

export interface MemberPlan {
  podSet: string;
  index: number;
  name: string;
  /** The node the placement pinned the member to ('' when pinned to a domain). */
  nodeName: string;
  /** The Pod to create (core/v1 JSON). */
  body: PodBody;
}

export interface PodBody {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

/** The gang's scheduling.k8s.io/v1alpha2 PodGroup (Workload API mode). */
export interface PodGroupBody {
  apiVersion: 'scheduling.k8s.io/v1alpha2';
  kind: 'PodGroup';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: { schedulingPolicy: { gang: { minCount: number } } };
}

/** The gang's copy of one of the job's resource.k8s.io/v1 ResourceClaimTemplates. */
export interface ClaimTemplateBody {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceClaimTemplate';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  /** `metadata` goes onto every ResourceClaim made from it; `spec` is the dispatch's spec_json. */
  spec: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
}

export interface GangPlan {
  gangId: string;
  jobId: string;
  token: number;
  namespace: string;
  onClusterLost: OnClusterLostPolicy;
  members: MemberPlan[];
  /** Created before the members, which all name it (workload-api mode only). */
  podGroup?: PodGroupBody;
  /** Created before the members (after the PodGroup); the members name them. */
  claimTemplates: ClaimTemplateBody[];
}

export interface PlanOptions {
  /** Make a gang PodGroup and point every member's spec.schedulingGroup at it. */
  workloadApi?: boolean;
  /**
   * The fence terms the hub told (HelloAck), recorded on every member so that a restarted agent
   * that cannot reach the hub still knows when and how to fence the gang; undefined: none told.
   */
  fenceTerms?: FenceTerms;
}

export interface PlanError {
  /** "InvalidDispatch" or "InvalidTemplate". */
  reason: string;
  message: string;
}

export type PlanResult = { ok: true; plan: GangPlan } | { ok: false; error: PlanError };

class Invalid extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function onClusterLostPolicy(value: OnClusterLost): OnClusterLostPolicy {
  return value === OnClusterLost.ON_CLUSTER_LOST_REQUEUE ? 'requeue' : 'wait';
}

function checkLabelValue(field: string, value: string): void {
  const e = labelValueError(value);
  if (e) throw new Invalid('InvalidDispatch', `${field}: "${value}" ${e}`);
}

/** Adds `metadata.name In [node]` to every required node selector term (or makes the one term). */
function pinToNode(affinity: unknown, node: string): Record<string, unknown> {
  const a = isRecord(affinity) ? { ...affinity } : {};
  const na = isRecord(a.nodeAffinity) ? { ...a.nodeAffinity } : {};
  const required = isRecord(na.requiredDuringSchedulingIgnoredDuringExecution)
    ? na.requiredDuringSchedulingIgnoredDuringExecution
    : {};
  const field = { key: 'metadata.name', operator: 'In', values: [node] };
  const existing = Array.isArray(required.nodeSelectorTerms)
    ? (required.nodeSelectorTerms as unknown[]).filter(isRecord)
    : [];
  const terms =
    existing.length === 0
      ? [{ matchFields: [field] }]
      : existing.map((t) => ({
          ...t,
          matchFields: [...(Array.isArray(t.matchFields) ? t.matchFields : []), field],
        }));
  na.requiredDuringSchedulingIgnoredDuringExecution = { ...required, nodeSelectorTerms: terms };
  a.nodeAffinity = na;
  return a;
}

/** The gang's labels on the objects it owns besides its pods. */
function gangLabels(d: Dispatch): Record<string, string> {
  return {
    ...d.labels,
    [LABEL_GANG_ID]: d.gangId,
    [LABEL_JOB_ID]: d.jobId,
    [LABEL_FENCING_TOKEN]: String(d.fencingToken),
  };
}

/** The gang's ResourceClaimTemplates, and the job's name of each → the gang's. */
function planClaimTemplates(
  d: Dispatch,
  namespace: string,
): { bodies: ClaimTemplateBody[]; renames: Map<string, string> } {
  const renames = new Map<string, string>();
  const bodies: ClaimTemplateBody[] = [];
  for (const [i, t] of d.resourceClaimTemplates.entries()) {
    const f = `resource_claim_templates[${i}]`;
    const e = dns1123SubdomainError(t.name);
    if (e) throw new Invalid('InvalidDispatch', `${f}.name: "${t.name}" ${e}`);
    if (renames.has(t.name))
      throw new Invalid('InvalidDispatch', `${f}.name: duplicate claim template "${t.name}"`);
    let spec: unknown;
    try {
      spec = JSON.parse(t.specJson);
    } catch (err) {
      throw new Invalid('InvalidTemplate', `${f}.spec_json: not JSON (${(err as Error).message})`);
    }
    if (!isRecord(spec))
      throw new Invalid('InvalidTemplate', `${f}.spec_json: must be a ResourceClaimSpec object`);
    const name = claimTemplateName(d.gangId, d.fencingToken, t.name);
    renames.set(t.name, name);
    const labels = gangLabels(d);
    bodies.push({
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaimTemplate',
      metadata: {
        name,
        namespace,
        labels,
        annotations: { [ANNOTATION_CLAIM_TEMPLATE]: t.name },
      },
      spec: { metadata: { labels: { ...labels } }, spec },
    });
  }
  return { bodies, renames };
}

/**
 * Renames every `spec.resourceClaims[].resourceClaimTemplateName` of a pod template to the gang's
 * copy; a name the dispatch carries no template for is refused (nothing is created).
 */
function renameClaimTemplates(
  spec: Record<string, unknown>,
  renames: ReadonlyMap<string, string>,
  field: string,
): void {
  if (!Array.isArray(spec.resourceClaims)) return;
  for (const [j, claim] of (spec.resourceClaims as unknown[]).entries()) {
    if (!isRecord(claim) || typeof claim.resourceClaimTemplateName !== 'string') continue;
    const original = claim.resourceClaimTemplateName;
    const renamed = renames.get(original);
    if (renamed === undefined) {
      const carried = [...renames.keys()];
      throw new Invalid(
        'InvalidTemplate',
        `${field}: spec.resourceClaims[${j}].resourceClaimTemplateName "${original}" names no ` +
          `resource_claim_templates entry of the dispatch (${carried.length === 0 ? 'it carries none' : `it carries ${carried.map((n) => `"${n}"`).join(', ')}`})`,
      );
    }
    claim.resourceClaimTemplateName = renamed;
  }
}

function buildPod(
  d: Dispatch,
  namespace: string,
  template: Record<string, unknown>,
  podSet: Dispatch['podSets'][number],
  index: number,
  nodeName: string,
  gangSize: number,
  podGroupName: string | undefined,
  fenceTerms: FenceTerms | undefined,
): PodBody {
  const name = memberPodName(d.gangId, d.fencingToken, podSet.name, index);
  const tmeta = isRecord(template.metadata) ? template.metadata : {};
  const labels: Record<string, string> = {
    ...(isRecord(tmeta.labels) ? (tmeta.labels as Record<string, string>) : {}),
    ...d.labels,
    [LABEL_GANG_ID]: d.gangId,
    [LABEL_JOB_ID]: d.jobId,
    [LABEL_FENCING_TOKEN]: String(d.fencingToken),
    [LABEL_POD_SET]: podSet.name,
    [LABEL_MEMBER_INDEX]: String(index),
  };
  const annotations: Record<string, string> = {
    ...(isRecord(tmeta.annotations) ? (tmeta.annotations as Record<string, string>) : {}),
    [ANNOTATION_ON_CLUSTER_LOST]: onClusterLostPolicy(d.onClusterLost),
    [ANNOTATION_GANG_SIZE]: String(gangSize),
  };
  // Muster's own, so a template cannot claim terms the hub never told.
  delete annotations[ANNOTATION_SELF_FENCE_TIMEOUT_MS];
  delete annotations[ANNOTATION_FENCE_DELETE_GRACE_S];
  if (fenceTerms) {
    annotations[ANNOTATION_SELF_FENCE_TIMEOUT_MS] = String(fenceTerms.selfFenceTimeoutMs);
    if (fenceTerms.deleteGraceSeconds !== undefined)
      annotations[ANNOTATION_FENCE_DELETE_GRACE_S] = String(fenceTerms.deleteGraceSeconds);
  }
  const spec: Record<string, unknown> = { ...(template.spec as Record<string, unknown>) };
  delete spec.nodeName;
  const gates = Array.isArray(spec.schedulingGates)
    ? (spec.schedulingGates as unknown[]).filter((g) => !isRecord(g) || g.name !== SCHEDULING_GATE)
    : [];
  spec.schedulingGates = [...gates, { name: SCHEDULING_GATE }];
  if (podSet.domainLevel !== '') {
    spec.nodeSelector = {
      ...(isRecord(spec.nodeSelector) ? spec.nodeSelector : {}),
      [podSet.domainLevel]: podSet.domainValue,
    };
  }
  if (nodeName !== '') spec.affinity = pinToNode(spec.affinity, nodeName);
  // The gang's PodGroup: the worker's scheduler binds all members or none.
  if (podGroupName !== undefined) spec.schedulingGroup = { podGroupName };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels, annotations },
    spec,
  };
}

/**
 * Checks a dispatch and builds every member's Pod. Only what the agent itself relies on is
 * checked (names, labels, a parseable template with a spec); everything else is the API
 * server's to judge, so its refusal comes back in the DispatchAnswer.
 */
export function planGang(d: Dispatch, options: PlanOptions = {}): PlanResult {
  try {
    if (d.gangId === '') throw new Invalid('InvalidDispatch', 'gang_id: is required');
    checkLabelValue('gang_id', d.gangId);
    checkLabelValue('job_id', d.jobId);
    if (!Number.isSafeInteger(d.fencingToken) || d.fencingToken < 0) {
      throw new Invalid('InvalidDispatch', `fencing_token: must be a non-negative integer`);
    }
    const namespace = d.namespace === '' ? DEFAULT_NAMESPACE : d.namespace;
    const nsError = dns1123LabelError(namespace);
    if (nsError) throw new Invalid('InvalidDispatch', `namespace: "${namespace}" ${nsError}`);
    for (const [k, v] of Object.entries(d.labels)) {
      const e = qualifiedNameError(k);
      if (e) throw new Invalid('InvalidDispatch', `labels: key "${k}" ${e}`);
      checkLabelValue(`labels["${k}"]`, v);
    }
    if (d.podSets.length === 0) throw new Invalid('InvalidDispatch', 'pod_sets: is empty');
    const names = new Set<string>();
    let gangSize = 0;
    for (const [i, ps] of d.podSets.entries()) {
      const f = `pod_sets[${i}]`;
      if (ps.name === '') throw new Invalid('InvalidDispatch', `${f}.name: is required`);
      checkLabelValue(`${f}.name`, ps.name);
      if (names.has(ps.name)) {
        throw new Invalid('InvalidDispatch', `${f}.name: duplicate pod set "${ps.name}"`);
      }
      names.add(ps.name);
      if (ps.members.length === 0) throw new Invalid('InvalidDispatch', `${f}.members: is empty`);
      const indexes = new Set<number>();
      for (const m of ps.members) {
        if (!Number.isInteger(m.index) || m.index < 0 || indexes.has(m.index)) {
          throw new Invalid('InvalidDispatch', `${f}.members: bad or duplicate index ${m.index}`);
        }
        indexes.add(m.index);
      }
      if ((ps.domainLevel === '') !== (ps.domainValue === '')) {
        throw new Invalid('InvalidDispatch', `${f}: domain_level and domain_value go together`);
      }
      if (ps.domainLevel !== '') {
        const e = qualifiedNameError(ps.domainLevel);
        if (e) throw new Invalid('InvalidDispatch', `${f}.domain_level: ${e}`);
        checkLabelValue(`${f}.domain_value`, ps.domainValue);
      }
      gangSize += ps.members.length;
    }

    const podGroupName = options.workloadApi
      ? gangPodGroupName(d.gangId, d.fencingToken)
      : undefined;
    const claims = planClaimTemplates(d, namespace);
    const members: MemberPlan[] = [];
    for (const [i, ps] of d.podSets.entries()) {
      let template: unknown;
      try {
        template = JSON.parse(ps.podTemplateJson);
      } catch (e) {
        throw new Invalid(
          'InvalidTemplate',
          `pod_sets[${i}].pod_template_json: not JSON (${(e as Error).message})`,
        );
      }
      if (!isRecord(template) || !isRecord(template.spec)) {
        throw new Invalid(
          'InvalidTemplate',
          `pod_sets[${i}].pod_template_json: must be a PodTemplateSpec object with "spec"`,
        );
      }
      // Checked once per pod set, before any member is built.
      renameClaimTemplates(template.spec, claims.renames, `pod_sets[${i}].pod_template_json`);
      for (const m of ps.members) {
        // Each member gets its own copy: nothing is shared between the bodies.
        const copy = JSON.parse(ps.podTemplateJson) as Record<string, unknown>;
        renameClaimTemplates(
          copy.spec as Record<string, unknown>,
          claims.renames,
          `pod_sets[${i}].pod_template_json`,
        );
        members.push({
          podSet: ps.name,
          index: m.index,
          name: memberPodName(d.gangId, d.fencingToken, ps.name, m.index),
          nodeName: m.nodeName,
          body: buildPod(
            d,
            namespace,
            copy,
            ps,
            m.index,
            m.nodeName,
            gangSize,
            podGroupName,
            options.fenceTerms,
          ),
        });
      }
    }
    const seen = new Set<string>();
    for (const m of members) {
      if (seen.has(m.name)) {
        throw new Invalid(
          'InvalidDispatch',
          `pod_sets: two members would share pod name ${m.name}`,
        );
      }
      seen.add(m.name);
    }
    const plan: GangPlan = {
      gangId: d.gangId,
      jobId: d.jobId,
      token: d.fencingToken,
      namespace,
      onClusterLost: onClusterLostPolicy(d.onClusterLost),
      members,
      claimTemplates: claims.bodies,
    };
    if (podGroupName !== undefined) {
      plan.podGroup = {
        apiVersion: 'scheduling.k8s.io/v1alpha2',
        kind: 'PodGroup',
        metadata: {
          name: podGroupName,
          namespace,
          labels: gangLabels(d),
          annotations: {
            [ANNOTATION_ON_CLUSTER_LOST]: plan.onClusterLost,
            [ANNOTATION_GANG_SIZE]: String(gangSize),
          },
        },
        spec: { schedulingPolicy: { gang: { minCount: gangSize } } },
      };
    }
    return { ok: true, plan };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, error: { reason: e.reason, message: e.message } };
    throw e;
  }
}
