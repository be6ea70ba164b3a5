// The line of the file a path inside a document was written on, so an error can say
// "line 14" as well as "spec.template.spec.resourceClaims[0].resourceClaimTemplateName".
import { isMap, isSeq, type Document, type LineCounter, type Node } from 'yaml';

/** The 1-based line of a path in one document; undefined when the path is not in the text. */
export type LineLookup = (path: string) => number | undefined;

export function lineLookup(doc: Document, counter: LineCounter): LineLookup {
  return (path) => {
    const segments = pathSegments(path);
    if (segments === undefined || segments.length === 0) return undefined;
    let node: unknown = doc.contents;
    let offset: number | undefined;
    for (const segment of segments) {
      const found = child(node, segment);
      // A field that is absent ("is required") is reported at the nearest one written.
      if (!found) break;
      offset = found.offset ?? offset;
      node = found.node;
    }
    return offset === undefined ? undefined : counter.linePos(offset).line;
  };
}

function child(
  node: unknown,
  segment: string | number,
): { node: unknown; offset?: number } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => keyText(p.key) === String(segment));
    if (!pair) return undefined;
    // The key's line, not the value's: a block map's value starts on the next line.
    return { node: pair.value, offset: start(pair.key) ?? start(pair.value) };
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? undefined : { node: item, offset: start(item) };
  }
  return undefined;
}

function keyText(key: unknown): string | undefined {
  if (key !== null && typeof key === 'object' && 'value' in key) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

function start(node: unknown): number | undefined {
  return (node as Partial<Node> | null)?.range?.[0];
}

/**
 * "spec.replicatedJobs[0].template" and 'metadata.labels["kueue.x-k8s.io/queue-name"]' (as
 * paths.ts spells them) into keys and indexes; undefined for what is not a path (a flag).
 */
export function pathSegments(path: string): (string | number)[] | undefined {
  if (path === '' || path.startsWith('--')) return undefined;
  const out: (string | number)[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '.') {
      i++;
    } else if (path.startsWith('["', i)) {
      const end = path.indexOf('"]', i + 2);
      if (end < 0) return undefined;
      out.push(path.slice(i + 2, end));
      i = end + 2;
    } else if (path[i] === '[') {
      const end = path.indexOf(']', i);
      const index = Number(path.slice(i + 1, end));
      if (end < 0 || !Number.isInteger(index)) return undefined;
      out.push(index);
      i = end + 1;
    } else {
      let end = i;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
      out.push(path.slice(i, end));
      i = end;
    }
  }
  return out;
}
