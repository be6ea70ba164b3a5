// Kubernetes object name rules, so Muster refuses at submit time what an API server would
// refuse at dispatch time.
import { isValidResourceName } from '@muster/placement';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Returns why `value` is not a DNS-1123 label (at most 63 characters), or undefined when it is. */
export function dns1123LabelError(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 63) return `must be at most 63 characters (got ${value.length})`;
  if (!DNS1123_LABEL.test(value)) {
    return 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Returns why `value` is not a DNS-1123 subdomain (at most 253 characters), or undefined. */
export function dns1123SubdomainError(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 253) return `must be at most 253 characters (got ${value.length})`;
  if (!DNS1123_SUBDOMAIN.test(value)) {
    return 'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Returns why `key` is not a valid label or annotation key ("prefix/name"), or undefined. */
export function qualifiedNameError(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    const prefixError = dns1123SubdomainError(prefix);
    if (prefixError) return `prefix "${prefix}" ${prefixError}`;
  }
  if (name.length === 0 || name.length > 63) return 'name part must be 1 to 63 characters';
  if (!LABEL_NAME.test(name)) {
    return 'name part must consist of letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Returns why `value` is not a valid label value, or undefined. */
export function labelValueError(value: string): string | undefined {
  if (value.length > 63) return `must be at most 63 characters (got ${value.length})`;
  if (!LABEL_VALUE.test(value)) {
    return 'must consist of letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/**
 * Returns why `name` is not a resource a quota may name, or undefined: a Kubernetes resource name
 * (`cpu`, `nvidia.com/gpu`, `gpu.nvidia.com.deviceclass.resource.k8s.io/devices`), optionally
 * scoped to a cluster set as `SET:NAME` (`east:nvidia.com/gpu`), SET a DNS-1123 label.
 */
export function quotaResourceError(name: string): string | undefined {
  const colon = name.indexOf(':');
  const resource = colon < 0 ? name : name.slice(colon + 1);
  if (colon >= 0) {
    const set = name.slice(0, colon);
    const setError = dns1123LabelError(set);
    if (setError) return `cluster set "${set}" ${setError}`;
  }
  if (!isValidResourceName(resource))
    return colon < 0
      ? `"${name}" is not a resource name (such as cpu, memory or nvidia.com/gpu, or SET:nvidia.com/gpu for one cluster set)`
      : `"${resource}" is not a resource name (such as cpu, memory or nvidia.com/gpu)`;
  return undefined;
}
