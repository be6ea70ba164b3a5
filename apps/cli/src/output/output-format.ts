// -o table|json|yaml. json and yaml print proto messages in the protobuf JSON mapping (camelCase
// field names, enum names as strings, timestamps as RFC 3339), the form grpcurl shows too.
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function renderStructured(value: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`;
  return stringify(value, { lineWidth: 0 });
}

/** One item of a stream (watch): a JSON line, or a YAML document. */
export function renderStreamItem(value: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(value)}\n`;
  return `---\n${stringify(value, { lineWidth: 0 })}`;
}

/** One of several results printed together: YAML documents get "---" between them. */
export function renderOneOfMany(value: unknown, format: 'json' | 'yaml', many: boolean): string {
  if (format === 'yaml' && many) return `---\n${stringify(value, { lineWidth: 0 })}`;
  return renderStructured(value, format);
}
