// The management cluster as the ClusterProfile tests use it: plain REST calls with the testbed's
// admin token (no @kubernetes/client-node, which is ESM-only and not loadable in these Jest tests).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ClusterProfile } from '@muster/k8s';
import { kubeJSON, kubeRequest, type KubeEndpoint } from '../../infra/testbed/src';
import { REPO_ROOT } from '../support/hub-process';

export const CRD_FILE = join(REPO_ROOT, 'infra/crds/clusterprofiles.multicluster.x-k8s.io.yaml');
export const DECISION_CRD_FILE = join(
  REPO_ROOT,
  'infra/crds/placementdecisions.multicluster.x-k8s.io.yaml',
);
export const EXAMPLES = join(REPO_ROOT, 'infra/inventory/examples');

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const profiles = (ns: string) =>
  `/apis/multicluster.x-k8s.io/v1alpha1/namespaces/${ns}/clusterprofiles`;
const decisions = (ns: string) =>
  `/apis/multicluster.x-k8s.io/v1alpha1/namespaces/${ns}/placementdecisions`;

/** A PlacementDecision as the tests read it. */
export interface PlacementDecisionObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  schedulerName?: string;
  decisions: { clusterProfileRef: { name: string; namespace?: string }; reason?: string }[];
}

/** The YAML documents of a file, as objects. */
export function yamlDocuments(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null);
}

export class ManagementCluster {
  constructor(readonly ep: KubeEndpoint) {}

  /** Installs the CRDs of a file (default the ClusterProfile one) and waits until each is served. */
  async installCrd(file = CRD_FILE): Promise<void> {
    for (const crd of yamlDocuments(file)) await this.installOneCrd(crd);
  }

  private async installOneCrd(crd: Record<string, unknown>): Promise<void> {
    await kubeJSON(this.ep, 'POST', CRD_PATH, crd, [409]);
    const name = (crd.metadata as { name: string }).name;
    const spec = crd.spec as {
      group: string;
      names: { plural: string };
      versions: { name: string }[];
    };
    const probePath = `/apis/${spec.group}/${spec.versions[0]!.name}/namespaces/default/${spec.names.plural}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const got = await kubeJSON<{ status?: { conditions?: { type: string; status: string }[] } }>(
        this.ep,
        'GET',
        `${CRD_PATH}/${name}`,
      );
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
        // Established can precede the REST endpoint by a moment.
        const probe = await kubeRequest(this.ep, 'GET', probePath);
        if (probe.status === 200) return;
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established in 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async createNamespace(name: string): Promise<void> {
    await kubeJSON(this.ep, 'POST', '/api/v1/namespaces', { metadata: { name } }, [409]);
  }

  async list(ns: string): Promise<ClusterProfile[]> {
    return (await kubeJSON<{ items: ClusterProfile[] }>(this.ep, 'GET', profiles(ns))).items;
  }

  async get(ns: string, name: string): Promise<ClusterProfile | undefined> {
    const res = await kubeRequest(this.ep, 'GET', `${profiles(ns)}/${name}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ClusterProfile ${ns}/${name} -> ${res.status}`);
    return JSON.parse(res.body) as ClusterProfile;
  }

  /** Creates the object, then sets its status through the status subresource (as a manager does). */
  async create(profile: ClusterProfile, ns: string): Promise<void> {
    const { status, ...rest } = profile;
    const body = { ...rest, metadata: { ...rest.metadata, namespace: ns } };
    const created = await kubeJSON<ClusterProfile>(this.ep, 'POST', profiles(ns), body);
    if (status) await this.replaceStatus({ ...created, status });
  }

  /** Replaces the whole status, as `kubectl edit --subresource=status` does. */
  async replaceStatus(profile: ClusterProfile): Promise<ClusterProfile> {
    const { namespace, name } = profile.metadata;
    return kubeJSON<ClusterProfile>(
      this.ep,
      'PUT',
      `${profiles(namespace!)}/${name}/status`,
      profile,
    );
  }

  async delete(ns: string, name: string): Promise<void> {
    await kubeJSON(this.ep, 'DELETE', `${profiles(ns)}/${name}`, undefined, [404]);
  }

  /** The PlacementDecisions of a namespace, optionally by label selector. */
  async decisions(ns: string, labelSelector?: string): Promise<PlacementDecisionObject[]> {
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    return (
      await kubeJSON<{ items: PlacementDecisionObject[] }>(
        this.ep,
        'GET',
        `${decisions(ns)}${query}`,
      )
    ).items;
  }

  async createDecision(
    ns: string,
    body: Omit<PlacementDecisionObject, 'metadata'> & {
      metadata: { name: string; labels?: Record<string, string> };
    },
  ): Promise<PlacementDecisionObject> {
    return kubeJSON<PlacementDecisionObject>(this.ep, 'POST', decisions(ns), {
      ...body,
      metadata: { ...body.metadata, namespace: ns },
    });
  }

  /** Replaces the whole object, as `kubectl edit` does (an update, not an apply). */
  async replaceDecision(d: PlacementDecisionObject): Promise<PlacementDecisionObject> {
    return kubeJSON<PlacementDecisionObject>(
      this.ep,
      'PUT',
      `${decisions(d.metadata.namespace)}/${d.metadata.name}`,
      d,
    );
  }

  /** HTTP status of GET on an API group version (404: not served, i.e. its CRDs are absent). */
  async apiStatus(groupVersion: string): Promise<number> {
    return (await kubeRequest(this.ep, 'GET', `/apis/${groupVersion}`)).status;
  }
}

export function condition(p: ClusterProfile | undefined, type: string) {
  return p?.status?.conditions?.find((c) => c.type === type);
}

export function property(p: ClusterProfile | undefined, name: string): string | undefined {
  return p?.status?.properties?.find((x) => x.name === name)?.value;
}
