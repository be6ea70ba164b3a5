// DRA claim templates a job's pods name: resource.k8s.io/v1 ResourceClaimTemplate documents in
// the manifests, and a Gang's own spec.resourceClaimTemplates. Muster sends each job the templates
// it names; the agent makes every member's claim from them in the cluster the gang is placed in.
import { dns1123LabelError, dns1123SubdomainError } from '@muster/k8s';
import type { ResourceClaimTemplate } from '@muster/api';
import { checkClaimSpec, type CheckedClaimSpec } from './claim-spec';
import { DocumentReader, isMap, type YamlMap } from './document-reader';
import { childPath, describeValue } from './paths';

export const CLAIM_TEMPLATE_KIND = 'ResourceClaimTemplate';
export const CLAIM_TEMPLATE_API_VERSION = 'resource.k8s.io/v1';

export interface ClaimTemplate {
  name: string;
  /** The namespace a ResourceClaimTemplate document is in; a Gang's own templates have the gang's. */
  namespace: string;
  claim: CheckedClaimSpec;
  /** The reader of the document it was written in: errors about it point there. */
  reader: DocumentReader;
  namePath: string;
  specPath: string;
  /** Set once a pod template names it; an unused template is an error (see unusedTemplateError). */
  used: boolean;
}

export function toWireTemplate(t: ClaimTemplate): ResourceClaimTemplate {
  return { name: t.name, specJson: JSON.stringify(t.claim.spec) };
}

export function isClaimTemplateDocument(body: unknown): body is YamlMap {
  return isMap(body) && body.kind === CLAIM_TEMPLATE_KIND;
}

/** A ResourceClaimTemplate document; its namespace defaults as a job's does. */
export function readClaimTemplateDocument(
  reader: DocumentReader,
  doc: YamlMap,
  defaultNamespace: string,
): ClaimTemplate {
  const apiVersion = reader.string(doc, '', 'apiVersion');
  if (apiVersion !== CLAIM_TEMPLATE_API_VERSION) {
    reader.fail(
      'apiVersion',
      `${apiVersion === undefined ? 'is required' : `${apiVersion} is not supported`} for kind ${CLAIM_TEMPLATE_KIND}; use ${CLAIM_TEMPLATE_API_VERSION}`,
    );
  }
  const metadata = reader.map(doc, '', 'metadata') ?? {};
  const name = reader.string(metadata, 'metadata', 'name');
  if (name === undefined) {
    reader.fail(
      'metadata.name',
      'is required: pod templates name the template by it in spec.resourceClaims[].resourceClaimTemplateName',
    );
  }
  templateName(reader, name, 'metadata.name');
  const namespace = reader.string(metadata, 'metadata', 'namespace');
  if (namespace !== undefined) {
    const error = dns1123LabelError(namespace);
    if (error) reader.fail('metadata.namespace', `${error} (got ${JSON.stringify(namespace)})`);
  }
  const spec = reader.map(doc, '', 'spec', true);
  if (spec.metadata !== undefined) {
    reader.warn(
      'spec.metadata',
      'is not sent: only spec.spec travels with the job, so labels and annotations for the claims are dropped',
    );
  }
  const claimSpec = reader.map(spec, 'spec', 'spec', true);
  return {
    name,
    namespace: namespace ?? defaultNamespace,
    claim: checkClaimSpec(reader, claimSpec, 'spec.spec'),
    reader,
    namePath: 'metadata.name',
    specPath: 'spec.spec',
    used: false,
  };
}

/** A Gang's spec.resourceClaimTemplates: `{name, spec}` entries, spec a ResourceClaimSpec. */
export function readInlineClaimTemplates(
  reader: DocumentReader,
  spec: YamlMap,
  namespace: string,
): ClaimTemplate[] {
  const listPath = 'spec.resourceClaimTemplates';
  const out: ClaimTemplate[] = [];
  reader.list(spec, 'spec', 'resourceClaimTemplates').forEach((entry, i) => {
    const path = childPath(listPath, i);
    if (!isMap(entry))
      reader.fail(path, `must be a map with name and spec (got ${describeValue(entry)})`);
    reader.onlyKnownKeys(entry, path, ['name', 'spec']);
    const namePath = childPath(path, 'name');
    const name = reader.string(entry, path, 'name');
    if (name === undefined) reader.fail(namePath, 'is required');
    templateName(reader, name, namePath);
    const earlier = out.find((t) => t.name === name);
    if (earlier)
      reader.fail(namePath, `duplicate template name "${name}" (also at ${earlier.namePath})`);
    const specPath = childPath(path, 'spec');
    out.push({
      name,
      namespace,
      claim: checkClaimSpec(reader, reader.map(entry, path, 'spec', true), specPath),
      reader,
      namePath,
      specPath,
      used: false,
    });
  });
  return out;
}

function templateName(reader: DocumentReader, name: string, path: string): void {
  const error = dns1123SubdomainError(name);
  if (error) reader.fail(path, `template name ${error} (got ${JSON.stringify(name)})`);
}

/** The ResourceClaimTemplate documents of one `muster submit`, by namespace and name. */
export class ClaimTemplateCatalog {
  private readonly templates: ClaimTemplate[] = [];

  add(template: ClaimTemplate): void {
    const twin = this.find(template.namespace, template.name);
    if (twin) {
      template.reader.fail(
        template.namePath,
        `duplicate ResourceClaimTemplate "${template.name}" in namespace ${template.namespace} (also in ${twin.reader.source})`,
      );
    }
    this.templates.push(template);
  }

  find(namespace: string, name: string): ClaimTemplate | undefined {
    return this.templates.find((t) => t.namespace === namespace && t.name === name);
  }

  /** Templates of this name in other namespaces: the likely mistake when a name is not found. */
  elsewhere(namespace: string, name: string): ClaimTemplate[] {
    return this.templates.filter((t) => t.namespace !== namespace && t.name === name);
  }

  names(namespace: string): string[] {
    return this.templates.filter((t) => t.namespace === namespace).map((t) => t.name);
  }

  unused(): ClaimTemplate[] {
    return this.templates.filter((t) => !t.used);
  }
}

/**
 * A template no pod names would be dropped without a word, and the job it was written for would
 * run without its devices; that is refused rather than warned about.
 */
export function failUnusedTemplate(t: ClaimTemplate, gangOwn: boolean): never {
  const where = gangOwn
    ? 'no pod set of this gang names it'
    : `no job in the manifests names it (in namespace ${t.namespace})`;
  return t.reader.fail(
    t.namePath,
    `template "${t.name}" is not used: ${where} in spec.resourceClaims[].resourceClaimTemplateName; claim it from a pod template or remove it (Muster sends templates with the jobs that claim them and creates nothing on its own)`,
  );
}
