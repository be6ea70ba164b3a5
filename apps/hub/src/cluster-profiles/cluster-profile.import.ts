// Pure mapping from the ClusterProfiles of other cluster managers to read-only cluster rows: the
// untyped JSON read from the management cluster is validated field by field (a malformed object is
// skipped, naming the field at fault), and an imported row is compared with its ClusterProfile. No
// I/O, no clock: the time is a parameter, so the same inputs always give the same rows.
import { isRecord } from '@muster/common';
import { LABEL_CLUSTER_MANAGER, LABEL_CLUSTER_SET } from '@muster/k8s';
import type * as wire from '@muster/api';
import { MusterError } from '../common/errors';
import type { ClusterEntity } from '../inventory/cluster.entity';
import {
  DEFAULT_TOPOLOGY_LEVELS,
  MUSTER_CLUSTER_MANAGER,
  type AccessProvider,
  type Condition,
  type Property,
} from '../inventory/cluster.domain';
import {
  accessProvidersToDomain,
  checkName,
  clusterSetToDomain,
  displayNameToDomain,
  topologyLevelsToDomain,
} from '../inventory/inventory.mapper';
import { labelsToDomain } from '../jobs/job-spec.mapper';
import {
  CONDITION_STATUSES,
  MAX_PROPERTY_VALUE,
  PROPERTY,
  canonical,
  type ClusterRow,
} from './cluster-profile.publish';

/** Label on imported cluster rows: the namespace of the ClusterProfile they come from. */
export const IMPORTED_FROM_LABEL = 'muster.dev/imported-from-namespace';

/** A ClusterProfile of another manager, validated into cluster row fields. */
export interface ImportedCluster {
  name: string;
  namespace: string;
  clusterManager: string;
  displayName: string;
  clusterSet: string;
  labels: Record<string, string>;
  topologyLevels: string[];
  accessProviders: AccessProvider[];
  kubernetesVersion: string;
  conditions: Condition[];
  properties: Property[];
}

export type ImportOutcome =
  | { kind: 'own' }
  | { kind: 'skip'; name: string; field: string; reason: string }
  | { kind: 'import'; cluster: ImportedCluster };

class Malformed extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Runs a Muster validator, turning its error into a Malformed naming the ClusterProfile field. */
function checked<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MusterError) {
      const inner = err.field ?? field;
      const reason = err.message.startsWith(`${inner}: `)
        ? err.message.slice(inner.length + 2)
        : err.message;
      throw new Malformed(inner, reason);
    }
    throw err;
  }
}

function optionalString(v: unknown, field: string, max: number): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Malformed(field, 'must be a string');
  if (v.length > max) throw new Malformed(field, `must be at most ${max} characters`);
  return v;
}

function accessProvidersOf(status: Record<string, unknown>): AccessProvider[] {
  // Deprecated credentialProviders first; accessProviders win on a name clash (as consumers do).
  const merged = new Map<string, { p: Record<string, unknown>; field: string }>();
  for (const list of ['credentialProviders', 'accessProviders'] as const) {
    const v = status[list];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) throw new Malformed(`status.${list}`, 'must be a list');
    v.forEach((p, i) => {
      if (!isRecord(p) || typeof p.name !== 'string')
        throw new Malformed(`status.${list}[${i}].name`, 'must be a string');
      merged.set(p.name, { p, field: `status.${list}[${i}]` });
    });
  }
  const entries = [...merged.values()];
  const proto: wire.AccessProvider[] = entries.map(({ p, field }) => {
    const c = isRecord(p.cluster) ? p.cluster : undefined;
    if (!c) throw new Malformed(`${field}.cluster`, 'is required');
    const ca = optionalString(
      c['certificate-authority-data'],
      `${field}.cluster.certificate-authority-data`,
      1 << 20,
    );
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(ca))
      throw new Malformed(`${field}.cluster.certificate-authority-data`, 'must be base64');
    const exts = c.extensions ?? [];
    if (!Array.isArray(exts)) throw new Malformed(`${field}.cluster.extensions`, 'must be a list');
    return {
      name: p.name as string,
      cluster: {
        server: optionalString(c.server, `${field}.cluster.server`, 2048),
        certificateAuthorityData: Buffer.from(ca, 'base64'),
        tlsServerName: optionalString(
          c['tls-server-name'],
          `${field}.cluster.tls-server-name`,
          253,
        ),
        proxyUrl: optionalString(c['proxy-url'], `${field}.cluster.proxy-url`, 2048),
        insecureSkipTlsVerify: c['insecure-skip-tls-verify'] === true,
        extensions: exts.map((e, j) => {
          if (!isRecord(e) || typeof e.name !== 'string')
            throw new Malformed(`${field}.cluster.extensions[${j}].name`, 'must be a string');
          return { name: e.name, extensionJson: JSON.stringify(e.extension ?? null) };
        }),
      },
    };
  });
  // Muster's own rules (server URL, proxy URL, names); its field names point back into the profile.
  try {
    return accessProvidersToDomain('access', proto);
  } catch (err) {
    if (err instanceof MusterError && err.field) {
      const m = /^access\[(\d+)\](.*)$/.exec(err.field);
      const at = m ? entries[Number(m[1])] : undefined;
      const sub = (m?.[2] ?? '')
        .replace('.proxy_url', '.proxy-url')
        .replace('.extension_json', '.extension');
      const field = at ? `${at.field}${sub}` : err.field;
      throw new Malformed(field, err.message.slice(err.field.length + 2));
    }
    throw err;
  }
}

function conditionsOf(v: unknown): Condition[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Malformed('status.conditions', 'must be a list');
  return v.map((c, i) => {
    const f = `status.conditions[${i}]`;
    if (!isRecord(c) || typeof c.type !== 'string')
      throw new Malformed(`${f}.type`, 'must be a string');
    if (typeof c.status !== 'string' || !CONDITION_STATUSES.has(c.status))
      throw new Malformed(`${f}.status`, 'must be True, False or Unknown');
    return {
      type: c.type,
      status: c.status as Condition['status'],
      reason: optionalString(c.reason, `${f}.reason`, 1024),
      message: optionalString(c.message, `${f}.message`, 32768),
      lastTransitionTime: optionalString(c.lastTransitionTime, `${f}.lastTransitionTime`, 64),
      observedGeneration: typeof c.observedGeneration === 'number' ? c.observedGeneration : 0,
    };
  });
}

function propertiesOf(v: unknown): Property[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Malformed('status.properties', 'must be a list');
  return v.map((p, i) => {
    const f = `status.properties[${i}]`;
    if (!isRecord(p)) throw new Malformed(f, 'must be an object');
    const name = optionalString(p.name, `${f}.name`, 253);
    if (name === '') throw new Malformed(`${f}.name`, 'is required');
    const lastObservedTime = optionalString(p.lastObservedTime, `${f}.lastObservedTime`, 64);
    return {
      name,
      value: optionalString(p.value, `${f}.value`, MAX_PROPERTY_VALUE),
      ...(lastObservedTime ? { lastObservedTime } : {}),
    };
  });
}

/**
 * Classifies a ClusterProfile found in an import namespace: Muster's own, malformed (with the field
 * at fault), or a cluster to import as read-only.
 */
export function importedClusterOf(obj: unknown, namespace: string): ImportOutcome {
  const meta = isRecord(obj) && isRecord(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  try {
    if (!isRecord(obj)) throw new Malformed('', 'not an object');
    const spec = isRecord(obj.spec) ? obj.spec : {};
    const manager = isRecord(spec.clusterManager) ? spec.clusterManager.name : undefined;
    if (typeof manager !== 'string' || manager === '')
      throw new Malformed('spec.clusterManager.name', 'is required');
    if (manager === MUSTER_CLUSTER_MANAGER) return { kind: 'own' };
    checked('metadata.name', () => checkName('metadata.name', name));
    const displayName = checked('spec.displayName', () =>
      displayNameToDomain(
        'spec.displayName',
        optionalString(spec.displayName, 'spec.displayName', 1 << 16) || name,
      ),
    );
    const rawLabels = isRecord(meta.labels) ? (meta.labels as Record<string, string>) : {};
    const clusterSetField = `metadata.labels["${LABEL_CLUSTER_SET}"]`;
    const clusterSet = checked(clusterSetField, () =>
      clusterSetToDomain(clusterSetField, rawLabels[LABEL_CLUSTER_SET] ?? ''),
    );
    const kept = Object.fromEntries(
      Object.entries(rawLabels).filter(
        ([k]) =>
          k !== LABEL_CLUSTER_MANAGER && k !== LABEL_CLUSTER_SET && k !== IMPORTED_FROM_LABEL,
      ),
    );
    const labels = checked('metadata.labels', () =>
      labelsToDomain('metadata.labels', { ...kept, [IMPORTED_FROM_LABEL]: namespace }),
    );
    const status = isRecord(obj.status) ? obj.status : {};
    const version = isRecord(status.version) ? status.version.kubernetes : undefined;
    const properties = propertiesOf(status.properties);
    const levels = properties.find((p) => p.name === PROPERTY.topologyLevels)?.value;
    const topologyLevels = levels
      ? checked(`status.properties[${PROPERTY.topologyLevels}]`, () =>
          topologyLevelsToDomain(
            `status.properties[${PROPERTY.topologyLevels}]`,
            levels.split(','),
          ),
        )
      : DEFAULT_TOPOLOGY_LEVELS;
    return {
      kind: 'import',
      cluster: {
        name,
        namespace,
        clusterManager: manager,
        displayName,
        clusterSet,
        labels,
        topologyLevels,
        accessProviders: accessProvidersOf(status),
        kubernetesVersion: optionalString(version, 'status.version.kubernetes', 64),
        conditions: conditionsOf(status.conditions),
        properties,
      },
    };
  } catch (err) {
    if (err instanceof Malformed)
      return { kind: 'skip', name, field: err.field, reason: err.reason };
    throw err;
  }
}

/** A new read-only cluster row for an imported ClusterProfile, waiting for its agent. */
export function importedRow(c: ImportedCluster, now: Date): ClusterEntity {
  return {
    name: c.name,
    displayName: c.displayName,
    clusterManager: c.clusterManager,
    clusterSet: c.clusterSet,
    labels: c.labels,
    topologyLevels: c.topologyLevels,
    accessProviders: c.accessProviders,
    conditions: c.conditions,
    properties: c.properties,
    kubernetesVersion: c.kubernetesVersion,
    capacity: null,
    agentState: 'NeverConnected',
    agentVersion: '',
    lastHeartbeatAt: null,
    cordoned: false,
    readOnly: true,
    createdAt: now,
    updatedAt: now,
  };
}

/** Fields of an imported row to write so it matches its ClusterProfile; undefined when it does. */
export type ImportedChanges = Partial<
  Pick<
    ClusterEntity,
    | 'displayName'
    | 'clusterSet'
    | 'labels'
    | 'topologyLevels'
    | 'accessProviders'
    | 'properties'
    | 'conditions'
    | 'kubernetesVersion'
  >
>;

export function importedChanges(row: ClusterRow, c: ImportedCluster): ImportedChanges | undefined {
  const changes: ImportedChanges = {};
  const differ = (a: unknown, b: unknown) => canonical(a) !== canonical(b);
  if (row.displayName !== c.displayName) changes.displayName = c.displayName;
  if (row.clusterSet !== c.clusterSet) changes.clusterSet = c.clusterSet;
  if (differ(row.labels, c.labels)) changes.labels = c.labels;
  if (differ(row.topologyLevels, c.topologyLevels)) changes.topologyLevels = c.topologyLevels;
  if (differ(row.accessProviders, c.accessProviders)) changes.accessProviders = c.accessProviders;
  if (differ(row.properties, c.properties)) changes.properties = c.properties;
  // Once the cluster's own agent connects, health and version are the agent's to report.
  if (row.agentState === 'NeverConnected') {
    if (differ(row.conditions, c.conditions)) changes.conditions = c.conditions;
    if (row.kubernetesVersion !== c.kubernetesVersion)
      changes.kubernetesVersion = c.kubernetesVersion;
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}
