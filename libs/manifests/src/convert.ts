// Turns manifest documents into JobSpecs ready to submit. Flags win over what the document says;
// every check that can be made here is, so mistakes are reported against the file.
import { OnClusterLost, type JobSpec, type ResourceClaimTemplate } from '@muster/api';
import {
  dns1123LabelError,
  dns1123SubdomainError,
  labelValueError,
  qualifiedNameError,
} from '@muster/k8s';
import { SubmissionError } from './errors';
import { convertBatchJob } from './batch-job';
import {
  ClaimTemplateCatalog,
  failUnusedTemplate,
  isClaimTemplateDocument,
  readClaimTemplateDocument,
  toWireTemplate,
  type ClaimTemplate,
} from './claim-templates';
import { attributeNameProblem } from '@muster/placement';
import { DocumentReader, isMap, type YamlMap } from './document-reader';
import type { ManifestDocument } from './documents';
import { FieldOrigins, pathOrigin } from './field-origins';
import { convertGang, GANG_API_VERSION } from './gang';
import {
  DEFAULT_NAMESPACE,
  type JobSettings,
  type KindConversion,
  type Located,
  type ManifestKind,
} from './job-settings';
import { convertJobSet } from './jobset';
import { convertLeaderWorkerSet, LWS_API_VERSION } from './leader-worker-set';
import { convertMpiJob, MPI_API_VERSION } from './mpi-job';
import { childPath, describeValue } from './paths';
import { podClaimTemplates, type ClaimScope } from './pod-claims';
import { buildPodSet, buildPodSetGroup } from './pod-sets';
import { convertRayCluster, convertRayJob, RAY_API_VERSION } from './ray';
import { refuseTrainJob, TRAINER_API_VERSION } from './train-job';
import { TRAINING_API_VERSION, trainingJobConverter } from './training-job';

/** Kueue defaults jobs without a queue label to the LocalQueue "default"; Muster does the same. */
export const DEFAULT_QUEUE = 'default';

export interface SubmitOverrides {
  queue?: string;
  priority?: number;
  priorityClass?: string;
  name?: string;
  onClusterLost?: OnClusterLost;
  maxRestarts?: number;
}

export interface JobDraft {
  source: string;
  kind: ManifestKind;
  spec: JobSpec;
  origins: FieldOrigins;
  warnings: string[];
}

const SUPPORTED =
  'use a batch/v1 Job, a JobSet (jobset.x-k8s.io/v1alpha2), a muster.dev/v1 Gang, ' +
  'a kubeflow.org/v1 PyTorchJob, TFJob, JAXJob, PaddleJob or XGBoostJob, a kubeflow.org/v2beta1 MPIJob, ' +
  'a ray.io/v1 RayCluster or RayJob, or a LeaderWorkerSet (leaderworkerset.x-k8s.io/v1), ' +
  'with resource.k8s.io/v1 ResourceClaimTemplates for their devices';

/** The jobs of one `muster submit`, and every warning in document order. */
export interface Submission {
  drafts: JobDraft[];
  warnings: string[];
}

/**
 * All documents of one `muster submit` (every -f): ResourceClaimTemplates are gathered first, so
 * a job may come before the template it names, then each other document becomes a job.
 */
export function draftsFromDocuments(
  documents: readonly ManifestDocument[],
  overrides: SubmitOverrides = {},
): Submission {
  const catalog = new ClaimTemplateCatalog();
  const warnings: string[][] = documents.map(() => []);
  const jobs: [ManifestDocument, number][] = [];
  documents.forEach((document, i) => {
    if (!isClaimTemplateDocument(document.body)) {
      jobs.push([document, i]);
      return;
    }
    const reader = new DocumentReader(document.source, document.lines);
    catalog.add(readClaimTemplateDocument(reader, document.body, DEFAULT_NAMESPACE));
    warnings[i] = reader.warnings;
  });
  if (overrides.name !== undefined && jobs.length > 1) {
    throw new SubmissionError(
      `--name names one job, but the manifests hold ${jobs.length} jobs; drop --name or split them`,
    );
  }
  const drafts = jobs.map(([document, i]) => {
    const draft = draftFromDocument(document, overrides, catalog);
    warnings[i] = draft.warnings;
    return draft;
  });
  const unused = catalog.unused()[0];
  if (unused) failUnusedTemplate(unused, false);
  return { drafts, warnings: warnings.flat() };
}

const CONVERTERS: Record<
  ManifestKind,
  { apiVersion: string; convert: (r: DocumentReader, d: YamlMap) => KindConversion }
> = {
  Job: { apiVersion: 'batch/v1', convert: convertBatchJob },
  JobSet: { apiVersion: 'jobset.x-k8s.io/v1alpha2', convert: convertJobSet },
  Gang: { apiVersion: GANG_API_VERSION, convert: convertGang },
  PyTorchJob: { apiVersion: TRAINING_API_VERSION, convert: trainingJobConverter('PyTorchJob') },
  TFJob: { apiVersion: TRAINING_API_VERSION, convert: trainingJobConverter('TFJob') },
  JAXJob: { apiVersion: TRAINING_API_VERSION, convert: trainingJobConverter('JAXJob') },
  PaddleJob: { apiVersion: TRAINING_API_VERSION, convert: trainingJobConverter('PaddleJob') },
  XGBoostJob: { apiVersion: TRAINING_API_VERSION, convert: trainingJobConverter('XGBoostJob') },
  MPIJob: { apiVersion: MPI_API_VERSION, convert: convertMpiJob },
  RayCluster: { apiVersion: RAY_API_VERSION, convert: convertRayCluster },
  RayJob: { apiVersion: RAY_API_VERSION, convert: convertRayJob },
  LeaderWorkerSet: { apiVersion: LWS_API_VERSION, convert: convertLeaderWorkerSet },
  // Known so that it is refused with a reason, not as an unknown kind.
  TrainJob: { apiVersion: TRAINER_API_VERSION, convert: refuseTrainJob },
};

/** One job document; the templates its pods name come from `catalog` (see draftsFromDocuments). */
export function draftFromDocument(
  document: ManifestDocument,
  overrides: SubmitOverrides = {},
  catalog: ClaimTemplateCatalog = new ClaimTemplateCatalog(),
): JobDraft {
  // Typed explicitly: TypeScript narrows on a never-returning method only through an annotated variable.
  const reader: DocumentReader = new DocumentReader(document.source, document.lines);
  const doc = document.body;
  if (!isMap(doc))
    reader.fail(
      '',
      `must be a Kubernetes-style object with apiVersion and kind (got ${describeValue(doc)})`,
    );
  const kind = reader.string(doc, '', 'kind');
  const apiVersion = reader.string(doc, '', 'apiVersion');
  if (kind === undefined) reader.fail('kind', `is required; ${SUPPORTED}`);
  if (kind === 'ResourceClaim') {
    reader.fail(
      'kind',
      'a ResourceClaim is not supported: a shared claim lives in one cluster and cannot follow a gang to the cluster Muster chooses; write a ResourceClaimTemplate and name it in spec.resourceClaims[].resourceClaimTemplateName',
    );
  }
  if (!isKind(kind)) reader.fail('', `kind ${kind} is not supported; ${SUPPORTED}`);
  const converter = CONVERTERS[kind];
  if (apiVersion !== converter.apiVersion) {
    reader.fail(
      'apiVersion',
      `${apiVersion === undefined ? 'is required' : `${apiVersion} is not supported`} for kind ${kind}; use ${converter.apiVersion}`,
    );
  }
  const conversion = converter.convert(reader, doc);
  const settings = applyOverrides(conversion.settings, overrides);
  const origins = new FieldOrigins(document.lines);
  const spec = buildSpec(reader, settings, conversion, origins, catalog);
  return { source: document.source, kind, spec, origins, warnings: reader.warnings };
}

function isKind(kind: string): kind is ManifestKind {
  return Object.prototype.hasOwnProperty.call(CONVERTERS, kind);
}

function applyOverrides(settings: JobSettings, overrides: SubmitOverrides): JobSettings {
  const out = { ...settings };
  if (overrides.name !== undefined) out.name = { value: overrides.name, path: '--name' };
  if (overrides.queue !== undefined) out.queue = { value: overrides.queue, path: '--queue' };
  if (overrides.priority !== undefined)
    out.priority = { value: overrides.priority, path: '--priority' };
  if (overrides.priorityClass !== undefined)
    out.priorityClass = { value: overrides.priorityClass, path: '--priority-class' };
  if (overrides.onClusterLost !== undefined)
    out.onClusterLost = { value: overrides.onClusterLost, path: '--on-cluster-lost' };
  if (overrides.maxRestarts !== undefined)
    out.maxRestarts = { value: overrides.maxRestarts, path: '--max-restarts' };
  return out;
}

function buildSpec(
  reader: DocumentReader,
  settings: JobSettings,
  conversion: KindConversion,
  origins: FieldOrigins,
  catalog: ClaimTemplateCatalog,
): JobSpec {
  if (!settings.name) reader.fail('metadata.name', 'is required; set it or pass --name');
  const name = checked(reader, settings.name, dns1123SubdomainError);
  origins.set('spec.name', pathOrigin(settings.name.path));

  const queue = settings.queue ? checked(reader, settings.queue, dns1123LabelError) : DEFAULT_QUEUE;
  origins.set(
    'spec.queue',
    settings.queue
      ? pathOrigin(settings.queue.path)
      : { kind: 'default', note: `the default queue "${DEFAULT_QUEUE}" (choose one with --queue)` },
  );
  const namespace = settings.namespace
    ? checked(reader, settings.namespace, dns1123LabelError)
    : DEFAULT_NAMESPACE;
  if (settings.namespace) origins.set('spec.namespace', pathOrigin(settings.namespace.path));
  if (settings.priority) origins.set('spec.priority', pathOrigin(settings.priority.path));
  // The hub knows the classes and their values; here only the name's form is checked.
  const priorityClass = settings.priorityClass
    ? checked(reader, settings.priorityClass, dns1123SubdomainError)
    : undefined;
  if (settings.priorityClass)
    origins.set('spec.priority_class', pathOrigin(settings.priorityClass.path));
  if (settings.onClusterLost)
    origins.set('spec.on_cluster_lost', pathOrigin(settings.onClusterLost.path));
  if (settings.maxRestarts) origins.set('spec.max_restarts', pathOrigin(settings.maxRestarts.path));
  const grace = settings.evictionGraceSeconds;
  if (grace) origins.set('spec.eviction_grace_seconds', pathOrigin(grace.path));

  for (const [key, value] of Object.entries(settings.labels)) {
    const path = childPath(settings.labelsPath, key);
    const keyError = qualifiedNameError(key);
    if (keyError) reader.fail(path, `label key ${keyError}`);
    const valueError = labelValueError(value);
    if (valueError) reader.fail(path, `label value ${valueError}`);
  }
  origins.set('spec.labels', pathOrigin(settings.labelsPath));

  const seen = new Map<string, string>();
  const podSets = conversion.podSets.map((source, i) => {
    const earlier = seen.get(source.name);
    if (earlier !== undefined)
      reader.fail(source.namePath, `duplicate pod set name "${source.name}" (also at ${earlier})`);
    seen.set(source.name, source.namePath);
    return buildPodSet(reader, source, i, origins);
  });
  const claimTemplates = jobClaimTemplates(reader, conversion, namespace, catalog);
  const matchDeviceAttribute = jobDeviceAttribute(reader, settings, claimTemplates, origins);
  const names = podSets.map((p) => p.name);
  const podSetGroups = conversion.groups.map((g, i) =>
    buildPodSetGroup(reader, g, names, i, origins),
  );
  return {
    name,
    queue,
    priority: settings.priority?.value ?? 0,
    onClusterLost: settings.onClusterLost?.value ?? OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: settings.labels,
    podSets,
    podSetGroups,
    namespace,
    maxRestarts: settings.maxRestarts?.value ?? 0,
    resourceClaimTemplates: wireTemplates(reader, claimTemplates, origins),
    matchDeviceAttribute,
    // Absent, not 0, when unset: the hub's default applies then.
    ...(grace ? { evictionGraceSeconds: grace.value } : {}),
    ...(priorityClass !== undefined ? { priorityClass } : {}),
  };
}

/** The attribute every claimed device must share; "" when none is set. */
function jobDeviceAttribute(
  reader: DocumentReader,
  settings: JobSettings,
  claimTemplates: readonly ClaimTemplate[],
  origins: FieldOrigins,
): string {
  const match = settings.matchDeviceAttribute;
  if (!match) return '';
  const value = checked(reader, match, attributeNameProblem);
  // Every pod claim names a template the job carries, so no template means no pod claims devices.
  if (claimTemplates.length === 0) {
    reader.fail(match.path, 'no pod set claims devices; remove it or add resourceClaims');
  }
  origins.set('spec.match_device_attribute', pathOrigin(match.path));
  return value;
}

/** The templates the job's pod sets name, each once, in the order first named. */
function jobClaimTemplates(
  reader: DocumentReader,
  conversion: KindConversion,
  namespace: string,
  catalog: ClaimTemplateCatalog,
): ClaimTemplate[] {
  const scope: ClaimScope = {
    catalog,
    namespace,
    gangTemplates: conversion.claimTemplates ?? [],
    gangTemplatesAllowed: conversion.kind === 'Gang',
  };
  for (const own of scope.gangTemplates) {
    const twin = catalog.find(namespace, own.name);
    if (twin) {
      reader.fail(
        own.namePath,
        `template "${own.name}" is also a ResourceClaimTemplate document in ${twin.reader.source}; keep one`,
      );
    }
  }
  const out: ClaimTemplate[] = [];
  for (const source of conversion.podSets)
    for (const t of podClaimTemplates(reader, source, scope)) if (!out.includes(t)) out.push(t);
  const unusedOwn = scope.gangTemplates.find((t) => !t.used);
  if (unusedOwn) failUnusedTemplate(unusedOwn, true);
  return out;
}

function wireTemplates(
  reader: DocumentReader,
  templates: readonly ClaimTemplate[],
  origins: FieldOrigins,
): ResourceClaimTemplate[] {
  return templates.map((t, k) => {
    const hub = `spec.resource_claim_templates[${k}]`;
    const other =
      t.reader === reader ? undefined : { source: t.reader.source, lines: t.reader.lines };
    origins.set(hub, pathOrigin(t.namePath, other));
    origins.set(`${hub}.name`, pathOrigin(t.namePath, other));
    origins.set(`${hub}.spec_json`, pathOrigin(t.specPath, other));
    return toWireTemplate(t);
  });
}

function checked(
  reader: DocumentReader,
  located: Located<string>,
  rule: (v: string) => string | undefined,
): string {
  const error = rule(located.value);
  if (error) reader.fail(located.path, `${error} (got ${JSON.stringify(located.value)})`);
  return located.value;
}
