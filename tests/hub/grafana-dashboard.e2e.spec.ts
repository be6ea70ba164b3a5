// infra/grafana/muster-hub.json against a real hub's /metrics: every metric name in every
// panel's PromQL (and in every variable's query) is one the hub exports, so a renamed metric or
// a typo breaks this test instead of a panel going quietly empty.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { REPO_ROOT } from '../support/hub-process';

const DASHBOARD = join(REPO_ROOT, 'infra/grafana/muster-hub.json');

interface Panel {
  title?: string;
  type?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

/** PromQL words that are not metric names: functions are told apart by the "(" after them. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/** The metric names an expression selects (label matchers, strings, ranges and groupings removed). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    const word = m[1]!;
    if (!KEYWORDS.has(word.toLowerCase())) names.add(word);
  }
  return [...names];
}

/** Every series name the scrape can hold: `# TYPE` names plus a histogram's or summary's parts. */
function exportedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

function panelsOf(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
}

/** "panel title: name" for each name the dashboard uses that the scrape lacks. */
function missingMetrics(dashboard: Dashboard, exported: Set<string>): string[] {
  const used: { where: string; expr: string }[] = [
    ...panelsOf(dashboard.panels).flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: p.title ?? '?', expr: t.expr ?? '' })),
    ),
    ...dashboard.templating.list
      .filter((v) => v.type === 'query')
      .map((v) => {
        const q = v.query;
        const text =
          typeof q === 'string' ? q : String((q as { query?: string } | undefined)?.query ?? '');
        // label_values(metric, label): the metric is the first argument.
        const m = /label_values\(\s*([^,)]+)/.exec(text);
        return { where: `variable ${v.name}`, expr: m ? m[1]! : text };
      }),
  ];
  return used.flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((n) => !exported.has(n))
      .map((n) => `${where}: ${n}`),
  );
}

let env: HubEnvironment;
let scrape: string;

beforeAll(async () => {
  env = await startHubEnvironment({ queues: ['dash'] });
  // One call of each kind so the scrape has samples too (the check itself needs only # TYPE).
  await env.api.inventory.listQueues({});
  scrape = await (await fetch(`${env.hub.httpUrl}/metrics`)).text();
});

afterAll(() => env?.stop());

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

describe('the Grafana dashboard', () => {
  it('is schema 39 or newer, with a Prometheus datasource variable every panel uses', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const queried = panelsOf(dashboard.panels).filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(10);
    for (const p of queried) {
      expect({ title: p.title, datasource: (p as { datasource?: unknown }).datasource }).toEqual({
        title: p.title,
        datasource: { type: 'prometheus', uid: '${datasource}' },
      });
    }
  });

  it('uses only metrics the hub exports', () => {
    const exported = exportedNames(scrape);
    expect(exported.has('muster_grpc_requests_total')).toBe(true);
    expect(missingMetrics(dashboard, exported)).toEqual([]);
  });

  it('shows every muster_ metric the hub exports somewhere', () => {
    const used = new Set(
      panelsOf(dashboard.panels).flatMap((p) =>
        (p.targets ?? []).flatMap((t) => metricNames(t.expr ?? '')),
      ),
    );
    const base = (n: string) => n.replace(/_(bucket|sum|count)$/, '');
    const usedBases = new Set([...used].map(base));
    const hubMetrics = [...scrape.matchAll(/^# TYPE (muster_\S+) /gm)]
      .map((m) => m[1]!)
      .filter((n) => !n.startsWith('muster_hub_'));
    expect(hubMetrics.filter((n) => !used.has(n) && !usedBases.has(n))).toEqual([]);
  });

  it('catches a misspelt metric, a suffix on a non-histogram, and reads PromQL right', () => {
    const exported = exportedNames(scrape);
    const broken = (expr: string): Dashboard => ({
      ...dashboard,
      panels: [{ title: 'p', targets: [{ expr }] }],
      templating: { list: [] },
    });
    expect(
      missingMetrics(
        broken(
          'histogram_quantile(0.9, sum by (le) (rate(muster_dispatch_duration_secnds_bucket[5m])))',
        ),
        exported,
      ),
    ).toEqual(['p: muster_dispatch_duration_secnds_bucket']);
    expect(missingMetrics(broken('rate(muster_jobs_submitted_total_count[5m])'), exported)).toEqual(
      ['p: muster_jobs_submitted_total_count'],
    );
    expect(
      metricNames(
        'sum by (method, code) (rate(muster_grpc_requests_total{instance=~"$instance", code!="OK"}[$__rate_interval])) / ignoring(code) group_left sum(up offset 5m)',
      ).sort(),
    ).toEqual(['muster_grpc_requests_total', 'up']);
  });
});
