// Reads manifest files (or standard input for "-") into YAML documents, keeping enough of where
// each came from to name it in errors.
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import { ManifestError } from './errors';
import { lineLookup, type LineLookup } from './line-positions';

export interface ManifestDocument {
  /** "job.yaml", or "job.yaml (document 2)" when the file holds several documents. */
  source: string;
  body: unknown;
  /** Where a path of the document is in the file; absent for documents not read from text. */
  lines?: LineLookup;
}

/** Largest manifest file read; larger is surely not a job description. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

export function readManifestFile(
  file: string,
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): ManifestDocument[] {
  const label = file === '-' ? '<stdin>' : file;
  let text: string;
  try {
    text = file === '-' ? readStdin() : readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory; name a YAML file'
          : (err as Error).message;
    throw new ManifestError(label, '', why);
  }
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) {
    throw new ManifestError(label, '', `is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
  }
  return parseManifestText(label, text);
}

/** Splits YAML text into its non-empty documents; a syntax error names the line and column. */
export function parseManifestText(label: string, text: string): ManifestDocument[] {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  const documents = Array.isArray(parsed) ? parsed : [parsed];
  // Empty documents (a stray "---", a trailing comment) are skipped, but numbering follows the
  // file so "document 3" is the third one a reader counts.
  const bodies = documents.map((doc) =>
    doc.errors.length > 0 ? undefined : (doc.toJS({ maxAliasCount: 100 }) as unknown),
  );
  const several =
    documents.filter((doc, i) => doc.errors.length > 0 || !isEmpty(bodies[i])).length > 1;
  const out: ManifestDocument[] = [];
  documents.forEach((doc, i) => {
    const source = several ? `${label} (document ${i + 1})` : label;
    const error = doc.errors[0];
    if (error) {
      const where = error.linePos?.[0];
      const at = where ? `line ${where.line}, column ${where.col}` : '';
      throw new ManifestError(source, at, `invalid YAML: ${firstLine(error.message)}`);
    }
    const body = bodies[i];
    if (!isEmpty(body)) out.push({ source, body, lines: lineLookup(doc, lineCounter) });
  });
  if (out.length === 0) throw new ManifestError(label, '', 'holds no YAML document');
  return out;
}

function isEmpty(body: unknown): boolean {
  return body === null || body === undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
