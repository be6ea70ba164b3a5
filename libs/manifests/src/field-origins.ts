// Where each field of a JobSpec came from, so a refusal by the hub (which names its own field,
// e.g. "spec.pod_sets[0].count") can point at the line the user wrote ("spec.parallelism").
import type { LineLookup } from './line-positions';

/** Another document of the manifests, e.g. the ResourceClaimTemplate a job carries. */
export interface OtherDocument {
  source: string;
  lines?: LineLookup;
}

export type Origin =
  /** A path inside the document. */
  | { kind: 'path'; path: string; document?: OtherDocument }
  /** A command-line flag such as --queue. */
  | { kind: 'flag'; flag: string }
  /** Nothing was given; the CLI chose a default. */
  | { kind: 'default'; note: string };

export class FieldOrigins {
  private readonly origins = new Map<string, Origin>();

  constructor(
    /** Lines of the job's own document, to say "line 12" with the path. */
    private readonly lines?: LineLookup,
  ) {}

  set(hubField: string, origin: Origin): void {
    this.origins.set(hubField, origin);
  }

  /**
   * Translates a hub field into where the user wrote it, using the longest known prefix:
   * "spec.pod_sets[0].pod_template_json.spec.containers[0].image" becomes
   * "spec.template.spec.containers[0].image" when pod set 0's template came from spec.template,
   * with ", line 12" when the document was read from text.
   */
  locate(hubField: string): string | undefined {
    let best: { prefix: string; origin: Origin } | undefined;
    for (const [prefix, origin] of this.origins) {
      const rest = hubField.slice(prefix.length);
      const matches =
        hubField.startsWith(prefix) &&
        (rest === '' || rest.startsWith('.') || rest.startsWith('['));
      if (matches && (!best || prefix.length > best.prefix.length)) best = { prefix, origin };
    }
    if (!best) return undefined;
    const rest = hubField.slice(best.prefix.length);
    switch (best.origin.kind) {
      case 'path': {
        const path = best.origin.path + rest;
        const document = best.origin.document;
        const line = (document ? document.lines : this.lines)?.(path);
        return `${path}${document ? ` in ${document.source}` : ''}${line !== undefined ? `, line ${line}` : ''}`;
      }
      case 'flag':
        return best.origin.flag;
      case 'default':
        return best.origin.note;
    }
  }
}

export function pathOrigin(path: string, document?: OtherDocument): Origin {
  if (path.startsWith('--')) return { kind: 'flag', flag: path };
  return document ? { kind: 'path', path, document } : { kind: 'path', path };
}
