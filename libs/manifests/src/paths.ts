// Paths inside a document, spelled the way kubectl and the hub spell them:
// spec.replicatedJobs[0].template and metadata.labels["kueue.x-k8s.io/queue-name"].

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (!PLAIN_KEY.test(key)) return `${parent}["${key}"]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** A short description of a value for "(got ...)" in messages. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return String(value);
}
