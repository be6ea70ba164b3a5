// The READMEs' settings tables against the config schemas, which declare each variable once:
// every variable of an app is in its README with its default, and every row names a real one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { agentSettings } from '../../apps/agent/src/config';
import { hubSettings } from '../../apps/hub/src/config/hub-config';
import { mcpSettings } from '../../apps/mcp/src/config';

const ROOT = join(__dirname, '../..');

type Settings = z.ZodObject<Record<string, z.ZodType>>;

const docs: { readme: string; settings: Settings; everySetting: boolean }[] = [
  // The overview lists the hub's common settings; its own README lists them all.
  { readme: 'README.md', settings: hubSettings, everySetting: false },
  { readme: 'apps/hub/README.md', settings: hubSettings, everySetting: true },
  { readme: 'apps/agent/README.md', settings: agentSettings, everySetting: true },
  { readme: 'docs/mcp.md', settings: mcpSettings, everySetting: true },
];

/** A setting's default as a README writes it (`value`), or undefined when it has none. */
function defaultOf(setting: z.ZodType): string | undefined {
  const parsed = setting.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return undefined;
  if (Array.isArray(parsed.data))
    return parsed.data.length === 0 ? undefined : parsed.data.join(',');
  return String(parsed.data);
}

interface Row {
  line: number;
  names: string[];
  /** The default column, one part per name ("`a` / `b`" or "`a`, `b`"), else the whole cell for each. */
  defaults: string[];
}

/** The rows of every table whose first column is "variable", with the variables they name. */
function settingsRows(markdown: string): Row[] {
  const rows: Row[] = [];
  let inTable = false;
  markdown.split('\n').forEach((text, i) => {
    if (!text.startsWith('|')) {
      inTable = false;
      return;
    }
    const cells = text
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (!inTable) {
      inTable = (cells[0] ?? '').toLowerCase() === 'variable';
      return;
    }
    if (/^-+$/.test(cells[0] ?? '')) return;
    const names = [...(cells[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!);
    if (names.length === 0) return; // a heading row such as **Security**
    const cell = cells[1] ?? '';
    const parts = cell.split(/\s+\/\s+|,\s+/);
    rows.push({
      line: i + 1,
      names,
      defaults: parts.length === names.length ? parts : names.map(() => cell),
    });
  });
  return rows;
}

/** What is wrong with `readme` against `settings`, one line per problem. */
function drift(readme: string, settings: Settings, everySetting: boolean): string[] {
  const text = readFileSync(join(ROOT, readme), 'utf8');
  const shape = settings.shape;
  const problems: string[] = [];
  const documented = new Set<string>();
  for (const row of settingsRows(text)) {
    row.names.forEach((name, i) => {
      const at = `${readme}:${row.line}: ${name}`;
      const setting = shape[name];
      if (setting === undefined) {
        problems.push(`${at} is not a setting`);
        return;
      }
      documented.add(name);
      const expected = defaultOf(setting);
      const written = row.defaults[i]!;
      if (expected !== undefined && written !== `\`${expected}\``)
        problems.push(`${at}: default is \`${expected}\`, the table says ${written}`);
      if (expected === undefined && /^`[^`]*`$/.test(written))
        problems.push(`${at}: has no default, the table says ${written}`);
    });
  }
  // Defaults quoted in prose and other tables: `MUSTER_X` (4096).
  for (const m of text.matchAll(/`([A-Z][A-Z0-9_]*)` \((\d+)\)/g)) {
    const setting = shape[m[1]!];
    if (setting !== undefined && defaultOf(setting) !== m[2])
      problems.push(`${readme}: ${m[1]} (${m[2]}): the default is ${defaultOf(setting)}`);
  }
  if (everySetting) {
    for (const name of Object.keys(shape))
      if (!documented.has(name)) problems.push(`${readme}: ${name} is missing from the table`);
  }
  return problems;
}

describe('settings tables in the READMEs', () => {
  it.each(docs)('$readme agrees with the schema', ({ readme, settings, everySetting }) => {
    expect(drift(readme, settings, everySetting)).toEqual([]);
  });

  it.each([
    ['hub', hubSettings],
    ['agent', agentSettings],
    ['mcp', mcpSettings],
  ] as const)('every %s setting has a doc in its schema', (_app, settings) => {
    const undocumented = Object.entries(settings.shape as Settings['shape'])
      .filter(([, s]) => !s.description)
      .map(([name]) => name);
    expect(undocumented).toEqual([]);
  });

  it('reads a table row by row, splitting joint rows per variable', () => {
    const rows = settingsRows(
      [
        '| Variable | Default | Meaning |',
        '| --- | --- | --- |',
        '| **Limits** | | |',
        '| `MUSTER_A` / `MUSTER_B` | `1` / `2` | two |',
        '| `MUSTER_C`, `MUSTER_D` | unset: off | both |',
        '',
        '| Limit | Setting |',
        '| --- | --- |',
        '| `MUSTER_E` | x |',
      ].join('\n'),
    );
    expect(rows).toEqual([
      { line: 4, names: ['MUSTER_A', 'MUSTER_B'], defaults: ['`1`', '`2`'] },
      { line: 5, names: ['MUSTER_C', 'MUSTER_D'], defaults: ['unset: off', 'unset: off'] },
    ]);
  });
});
