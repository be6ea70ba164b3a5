// Defences every request passes before a service sees it: bytes that do not decode become a
// value the handlers answer with INVALID_ARGUMENT (grpc-js would say INTERNAL), and strings that
// Postgres cannot store (NUL characters and unpaired surrogates, also inside JSON fields, and
// absurdly nested JSON) are refused with the field named, instead of failing deep inside a
// transaction.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { unstorableStringError } from '@muster/k8s';
import { invalidArgument, type MusterError } from '../common/errors';

const UNDECODABLE = Symbol('undecodable');

interface Undecodable {
  [UNDECODABLE]: true;
  /** Looks like an empty ConnectRequest to code that does not know the marker. */
  message: undefined;
}

export function isUndecodable(value: unknown): value is Undecodable {
  return typeof value === 'object' && value !== null && UNDECODABLE in value;
}

/** The service with deserializers that mark undecodable bytes instead of throwing. */
export function tolerantDecoding<S extends ServiceDefinition>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch {
          const marker: Undecodable = { [UNDECODABLE]: true, message: undefined };
          return marker;
        }
      },
    };
  }
  return out as S;
}

/** Deepest JSON accepted in a *_json field (pod templates have their own, lower bound). */
export const MAX_JSON_FIELD_DEPTH = 64;

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function jsonFieldError(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // not JSON: the service says so in its own words
  }
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_JSON_FIELD_DEPTH) return `is nested deeper than ${MAX_JSON_FIELD_DEPTH} levels`;
    if (typeof node === 'string') {
      const error = unstorableStringError(node);
      if (error) return error;
    } else if (typeof node === 'object' && node !== null) {
      for (const [k, child] of Object.entries(node)) {
        const keyError = unstorableStringError(k);
        if (keyError) return `key ${keyError}`;
        stack.push([child, depth + 1]);
      }
    }
  }
  return undefined;
}

/**
 * The first unstorable string of a decoded request, as an INVALID_ARGUMENT naming the field
 * (snake_case, as in the proto), or undefined.
 */
export function unstorableInput(request: unknown): MusterError | undefined {
  const stack: [unknown, string, string][] = [[request, '', '']];
  while (stack.length > 0) {
    const [node, path, key] = stack.pop()!;
    if (typeof node === 'string') {
      const stringError = unstorableStringError(node);
      if (stringError) return invalidArgument(path || 'request', stringError);
      if (key.endsWith('Json') && node !== '') {
        const error = jsonFieldError(node);
        if (error) return invalidArgument(path, error);
      }
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push([child, `${path}[${i}]`, key]));
    } else if (
      typeof node === 'object' &&
      node !== null &&
      !(node instanceof Uint8Array) &&
      !(node instanceof Date)
    ) {
      for (const [k, child] of Object.entries(node)) {
        const name = snake(k).slice(0, 64);
        const field = path === '' ? name : `${path}.${name}`;
        const keyError = unstorableStringError(k);
        if (keyError) return invalidArgument(path || 'request', `map key ${keyError}`);
        stack.push([child, field, k]);
      }
    }
  }
  return undefined;
}
