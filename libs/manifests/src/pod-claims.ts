// A pod template's DRA claims: spec.resourceClaims[] must each name a claim template the job
// carries, and containers' resources.claims[] must name those claims.
import { dns1123LabelError } from '@muster/k8s';
import { isMap, type DocumentReader, type YamlMap } from './document-reader';
import {
  CLAIM_TEMPLATE_API_VERSION,
  type ClaimTemplate,
  type ClaimTemplateCatalog,
} from './claim-templates';
import { childPath, describeValue } from './paths';
import type { PodSetSource } from './pod-sets';

/** Where a job's pods find the templates they name. */
export interface ClaimScope {
  catalog: ClaimTemplateCatalog;
  /** The job's namespace: a ResourceClaimTemplate document serves pods of its own namespace. */
  namespace: string;
  /** A Gang's own spec.resourceClaimTemplates, searched first. */
  gangTemplates: readonly ClaimTemplate[];
  gangTemplatesAllowed: boolean;
}

const CONTAINER_LISTS = ['initContainers', 'containers'] as const;

/** One of the pod's spec.resourceClaims, resolved. */
interface PodClaim {
  template: ClaimTemplate;
  namePath: string;
  /** Some container lists it in resources.claims. */
  listed: boolean;
}

/** Checks the pod template's claims; gives the templates they name, in order, each once. */
export function podClaimTemplates(
  reader: DocumentReader,
  source: PodSetSource,
  scope: ClaimScope,
): ClaimTemplate[] {
  const podPath = childPath(source.templatePath, 'spec');
  const pod = reader.map(source.template, source.templatePath, 'spec', true);
  const claimsPath = childPath(podPath, 'resourceClaims');
  const claims = new Map<string, PodClaim>();
  reader.list(pod, podPath, 'resourceClaims').forEach((entry, i) => {
    const path = childPath(claimsPath, i);
    if (!isMap(entry))
      reader.fail(
        path,
        `must be a map with name and resourceClaimTemplateName (got ${describeValue(entry)})`,
      );
    const namePath = childPath(path, 'name');
    const name = reader.string(entry, path, 'name');
    if (name === undefined) reader.fail(namePath, 'is required; containers name the claim by it');
    const nameError = dns1123LabelError(name);
    if (nameError) reader.fail(namePath, `claim name ${nameError} (got ${JSON.stringify(name)})`);
    if (claims.has(name)) reader.fail(namePath, `duplicate claim name "${name}"`);
    if (entry.resourceClaimName !== undefined && entry.resourceClaimName !== null) {
      reader.fail(
        childPath(path, 'resourceClaimName'),
        'a pre-made ResourceClaim is not supported: a shared claim lives in one cluster and cannot follow the gang to the cluster Muster chooses; use resourceClaimTemplateName, so each member gets its own claim where it runs',
      );
    }
    const templatePath = childPath(path, 'resourceClaimTemplateName');
    const templateName = reader.string(entry, path, 'resourceClaimTemplateName');
    if (templateName === undefined)
      reader.fail(templatePath, 'is required: the name of a ResourceClaimTemplate');
    const template = findTemplate(reader, scope, templateName, templatePath);
    template.used = true;
    claims.set(name, { template, namePath, listed: false });
  });

  for (const list of CONTAINER_LISTS) {
    const listPath = childPath(podPath, list);
    const containers = Array.isArray(pod[list]) ? (pod[list] as unknown[]) : [];
    containers.forEach((container, c) => {
      if (!isMap(container)) return; // checkPodTemplate has refused it already
      const resources = isMap(container.resources) ? container.resources : undefined;
      if (!resources) return;
      containerClaims(reader, resources, childPath(childPath(listPath, c), 'resources'), claims);
    });
  }
  for (const [name, claim] of claims) {
    if (!claim.listed) {
      reader.warn(
        claim.namePath,
        `no container lists claim "${name}" in resources.claims, so no container sees its devices (they are allocated all the same)`,
      );
    }
  }
  return [...new Set([...claims.values()].map((c) => c.template))];
}

function containerClaims(
  reader: DocumentReader,
  resources: YamlMap,
  resourcesPath: string,
  claims: ReadonlyMap<string, PodClaim>,
): void {
  const claimsPath = childPath(resourcesPath, 'claims');
  reader.list(resources, resourcesPath, 'claims').forEach((entry, k) => {
    const path = childPath(claimsPath, k);
    if (!isMap(entry)) reader.fail(path, `must be a map with name (got ${describeValue(entry)})`);
    const name = reader.string(entry, path, 'name');
    if (name === undefined) reader.fail(childPath(path, 'name'), 'is required');
    const claim = claims.get(name);
    if (!claim) {
      const known = [...claims.keys()];
      reader.fail(
        childPath(path, 'name'),
        `no claim named "${name}" in the pod's spec.resourceClaims (${known.length > 0 ? `claims: ${known.join(', ')}` : 'it lists none'})`,
      );
    }
    claim.listed = true;
    const request = reader.string(entry, path, 'request');
    if (request !== undefined && !claim.template.claim.requestNames.includes(request)) {
      reader.fail(
        childPath(path, 'request'),
        `template "${claim.template.name}" has no request named "${request}" (requests: ${claim.template.claim.requestNames.join(', ')})`,
      );
    }
  });
}

function findTemplate(
  reader: DocumentReader,
  scope: ClaimScope,
  name: string,
  path: string,
): ClaimTemplate {
  const own = scope.gangTemplates.find((t) => t.name === name);
  if (own) return own;
  const found = scope.catalog.find(scope.namespace, name);
  if (found) return found;
  const elsewhere = scope.catalog.elsewhere(scope.namespace, name)[0];
  if (elsewhere) {
    reader.fail(
      path,
      `the ResourceClaimTemplate "${name}" in ${elsewhere.reader.source} is in namespace ${elsewhere.namespace}, but this job runs in namespace ${scope.namespace}; set the same metadata.namespace on both`,
    );
  }
  const known = [
    ...scope.gangTemplates.map((t) => t.name),
    ...scope.catalog.names(scope.namespace),
  ];
  const add = scope.gangTemplatesAllowed
    ? `add it to spec.resourceClaimTemplates, or add a ${CLAIM_TEMPLATE_API_VERSION} ResourceClaimTemplate document`
    : `add a ${CLAIM_TEMPLATE_API_VERSION} ResourceClaimTemplate document of that name to the manifests`;
  reader.fail(
    path,
    `no ResourceClaimTemplate named "${name}" in the manifests (${known.length > 0 ? `templates: ${known.join(', ')}` : 'there are none'}); ${add}`,
  );
}
