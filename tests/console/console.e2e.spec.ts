// The web console against a real hub: a testbed worker cluster with GPUs, a real agent, the
// built hub with bearer tokens, the built CLI submitting a gang, and Debian's chromium driven by
// playwright-core reading the pages as a person would. Screenshots go to .muster/console/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HubClients } from '@muster/api';
import { startTestbed, type Testbed } from '../../infra/testbed/src';
import type { AgentProcess } from '../support/agent-process';
import { CliSandbox, submittedIds } from '../cli/support/cli-process';
import { startWorkers, stopFleet } from '../support/clusters';
import { eventually } from '../support/eventually';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { REPO_ROOT, testLogDir, type HubProcess } from '../support/hub-process';
import { tempDir, writeTokensFile } from '../support/security';

jest.setTimeout(10 * 60_000);

const WORKER = 'console-gpu';
const TEAM_A = 'team-a';
const TEAM_B = 'team-b';
const ADMIN = 'console-admin-token';
const VIEWER_A = 'console-viewer-a-token';
const SHOTS = join(REPO_ROOT, '.muster/console');
const CHROMIUM = process.env.MUSTER_CHROMIUM ?? '/usr/bin/chromium';

const TOPOLOGY = {
  clusters: [
    {
      name: WORKER,
      role: 'worker' as const,
      nodePools: [
        {
          name: 'gpu',
          count: 2,
          zone: 'zone-a',
          resources: { cpu: 32, memory: '128Gi', pods: 110, 'nvidia.com/gpu': 4 },
        },
      ],
    },
  ],
};

const logs = testLogDir('console');
const secrets = tempDir('muster-console-');
let tb: Testbed;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
let cli: CliSandbox;
let browser: Browser;
const agents: AgentProcess[] = [];

/** A gang of `count` GPU workers in `queue`, as a person writes it for `muster submit -f`. */
function gangFile(name: string, queue: string, count: number): string {
  const file = join(secrets.path, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: muster.dev/v1',
      'kind: Gang',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      `  queue: ${queue}`,
      '  podSets:',
      '    - name: workers',
      `      count: ${count}`,
      '      template:',
      '        spec:',
      '          containers:',
      '            - name: worker',
      '              image: registry.example.com/train:1',
      '              resources:',
      "                requests: { cpu: '1', memory: 1Gi, nvidia.com/gpu: '1' }",
      "                limits: { nvidia.com/gpu: '1' }",
      '',
    ].join('\n'),
  );
  return file;
}

async function submit(name: string, queue: string, count: number): Promise<string> {
  const r = await cli.run(['submit', '-f', gangFile(name, queue, count)], {
    env: { MUSTER_TOKEN: ADMIN },
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const [id] = submittedIds(r.stdout);
  expect(id).toBeDefined();
  return id!;
}

/** A page signed in with `token` through the login form. */
async function signedIn(token: string, path = 'jobs'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${hub.httpUrl}/console/${path}`);
  await page.locator('[data-testid=login] input[name=token]').fill(token);
  await page.locator('[data-testid=login] button[type=submit]').click();
  await page.locator('[data-testid=who]').waitFor();
  return page;
}

/** Waits until `check` passes; the last failed expectation is quoted if time runs out. */
const until = (check: () => Promise<unknown>, timeoutMs = 30_000) =>
  eventually(
    'the console to show it',
    async () => {
      await check();
      return true;
    },
    { timeoutMs, intervalMs: 200 },
  );

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** The state the Jobs page shows for the job, read from its row. */
const rowState = (page: Page, id: string) =>
  page.locator(`tr[data-job="${id}"] [data-testid=state]`).innerText();

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  tb = await startTestbed(TOPOLOGY, { log: () => undefined });
  const tokensFile = writeTokensFile(secrets.path, [
    { name: 'ops', token: ADMIN, role: 'admin' },
    { name: 'ana', token: VIEWER_A, role: 'viewer', queues: [TEAM_A] },
  ]);
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_AUTH_TOKENS_FILE: tokensFile,
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '500',
    },
    client: { token: ADMIN },
    queues: [
      {
        name: TEAM_A,
        description: 'research',
        weight: 2,
        quota: {
          nominal: { 'nvidia.com/gpu': '6' },
          cohort: '',
          borrowingLimit: {},
          lendingLimit: {},
        },
      },
      TEAM_B,
    ],
  });
  ({ hub, api } = env);
  await startWorkers(api, {
    hub: hub.grpcAddress,
    workers: [WORKER],
    kubeconfigOf: (name) => tb.cluster(name).kubeconfigPath,
    logs,
    agents,
  });
  cli = new CliSandbox(hub.grpcAddress);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 15 * 60_000);

afterAll(async () => {
  await browser?.close();
  const ends = await stopFleet(agents, env, tb);
  secrets.remove();
  if (env) expect(ends).toEqual(agents.map(() => 0));
});

describe('the web console', () => {
  it('is served at /console/ with the right content types, and the app for every page path', async () => {
    const index = await fetch(`${hub.httpUrl}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${hub.httpUrl}${script}`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    const deep = await fetch(`${hub.httpUrl}/console/jobs/00000000-0000-4000-8000-000000000000`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    expect((await fetch(`${hub.httpUrl}/console/assets/missing.js`)).status).toBe(404);
    const bare = await fetch(`${hub.httpUrl}/console`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/console/');
  });

  it('gives nothing without a valid token: 401 with an empty body, and the page shows only the login form', async () => {
    for (const path of [
      'clusters',
      'queues',
      'cohorts',
      'jobs',
      'usage',
      'utilisation',
      'whoami',
      'events',
    ]) {
      for (const headers of <Record<string, string>[]>[
        {},
        { Authorization: 'Bearer not-a-token' },
        { Authorization: 'Basic eA==' },
      ]) {
        const res = await fetch(`${hub.httpUrl}/api/v1/${path}`, { headers });
        expect([path, res.status]).toEqual([path, 401]);
        expect(await res.text()).toBe('');
      }
    }
    // Read-only: nothing answers a write.
    for (const method of ['POST', 'PUT', 'DELETE'])
      expect(
        (
          await fetch(`${hub.httpUrl}/api/v1/jobs`, {
            method,
            headers: { Authorization: `Bearer ${ADMIN}` },
          })
        ).status,
      ).toBe(404);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${hub.httpUrl}/console/clusters`);
    await page.locator('[data-testid=login]').waitFor();
    await page.locator('[data-testid=login] input[name=token]').fill('wrong-token');
    await page.locator('[data-testid=login] button[type=submit]').click();
    await page.getByText('The hub did not accept this token.').waitFor();
    expect(await page.locator('table').count()).toBe(0);
    expect(await page.content()).not.toContain(WORKER);
    await shot(page, 'login');
    await context.close();
  });

  it('shows the clusters: agent, nodes ready, GPUs free of capacity, topology', async () => {
    const page = await signedIn(ADMIN, 'clusters');
    const row = page.locator(`tr[data-cluster="${WORKER}"]`);
    await row.waitFor();
    await until(async () => {
      expect(await row.innerText()).toContain('connected');
      expect(await row.locator('[data-testid=gpus]').innerText()).toBe('8 / 8');
    });
    expect(await row.innerText()).toContain('2 / 2');
    expect(await page.getByText('GPUs allocated of capacity').count()).toBe(1);
    await shot(page, 'clusters');
    await page.context().close();
  });

  it('follows a gang submitted with the CLI from Queued to Running without a reload, with explain while it waits', async () => {
    const page = await signedIn(ADMIN, 'jobs');
    await page.locator('[data-testid=live]', { hasText: 'live' }).waitFor();
    await page.evaluate(() => Object.assign(globalThis, { museumPiece: 'not reloaded' }));
    // Cordoned, the cluster takes no gang: the job waits visibly, then runs once uncordoned.
    await api.inventory.cordonCluster({ name: WORKER, reason: 'console test' });
    const id = await submit('llm-pretrain', TEAM_A, 3);
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await rowState(page, id)).toBe('Queued');
    expect(await row.innerText()).toContain(TEAM_A);

    const detail = await signedIn(ADMIN, `jobs/${id}`);
    await detail.locator('[data-testid=explain]').waitFor({ timeout: 30_000 });
    await until(async () =>
      expect(await detail.locator('[data-testid=explain]').innerText()).toContain(WORKER),
    );
    expect(await detail.locator('[data-testid=pod-sets]').innerText()).toContain(
      'nvidia.com/gpu 1',
    );
    await shot(detail, 'job-queued');

    await api.inventory.uncordonCluster({ name: WORKER });
    await until(async () => expect(await rowState(page, id)).toBe('Running'), 120_000);
    expect(await row.innerText()).toContain(WORKER);
    expect(await row.innerText()).toContain('3 / 3 / 3');
    expect(await page.evaluate(() => (globalThis as { museumPiece?: string }).museumPiece)).toBe(
      'not reloaded',
    );
    await shot(page, 'jobs');
    await until(async () =>
      expect(await detail.locator('[data-testid=members]').innerText()).toContain('3 running'),
    );
    expect(await detail.locator('[data-testid=explain]').count()).toBe(0);
    await shot(detail, 'job');
    await detail.context().close();
    await page.context().close();
  });

  it('shows a viewer bound to one queue only that queue and its jobs', async () => {
    const other = await submit('other-team', TEAM_B, 1);
    const page = await signedIn(VIEWER_A, 'jobs');
    await page.locator('tr[data-name="llm-pretrain"]').waitFor();
    expect(await page.locator(`tr[data-job="${other}"]`).count()).toBe(0);
    expect(await page.locator('tbody tr').count()).toBe(1);
    const res = await fetch(`${hub.httpUrl}/api/v1/jobs/${other}`, {
      headers: { Authorization: `Bearer ${VIEWER_A}` },
    });
    expect(res.status).toBe(404);
    const stream = await fetch(`${hub.httpUrl}/api/v1/jobs/${other}/events`, {
      headers: { Authorization: `Bearer ${VIEWER_A}` },
    });
    expect(stream.status).toBe(404);
    const all = (await (
      await fetch(`${hub.httpUrl}/api/v1/jobs`, { headers: { Authorization: `Bearer ${ADMIN}` } })
    ).json()) as { jobs: { id: string }[] };
    expect(all.jobs.map((j) => j.id)).toContain(other);

    await page.locator('a', { hasText: 'Queues' }).click();
    await page.locator('[data-testid=queues]').waitFor();
    expect(await page.locator('[data-testid=queues] tbody tr').count()).toBe(1);
    expect(await page.locator(`tr[data-queue="${TEAM_A}"]`).innerText()).toContain(
      'nvidia.com/gpu 6',
    );
    await page.context().close();
  });

  it('shows the queues with quota, usage and the GPU usage chart', async () => {
    const page = await signedIn(ADMIN, 'queues');
    const row = page.locator(`tr[data-queue="${TEAM_A}"]`);
    await row.waitFor();
    await until(async () => expect(await row.innerText()).toContain('nvidia.com/gpu 3'));
    expect(await page.locator(`tr[data-queue="${TEAM_B}"]`).count()).toBe(1);
    // Usage is booked each scheduling cycle: the running gang's hour shows up in the chart.
    await until(async () => {
      await page.reload();
      await page.locator('[data-testid=usage-chart] canvas').waitFor({ timeout: 5000 });
    }, 60_000);
    await shot(page, 'queues');
    await page.context().close();

    // What the chart draws: team-a's hour holds GPUs; a viewer of team-a gets no other queue.
    const usage = async (token: string) =>
      (await (
        await fetch(`${hub.httpUrl}/api/v1/usage`, {
          headers: { Authorization: `Bearer ${token}` },
        })
      ).json()) as { queues: { queue: string; hours: { held: Record<string, number> }[] }[] };
    const a = (await usage(ADMIN)).queues.find((q) => q.queue === TEAM_A);
    expect(a?.hours.at(-1)?.held['nvidia.com/gpu']).toBeGreaterThan(0);
    expect((await usage(VIEWER_A)).queues.map((q) => q.queue)).toEqual([TEAM_A]);
  });

  it('shows what the running gangs hold of each cluster', async () => {
    const page = await signedIn(ADMIN, 'clusters');
    const row = page.locator(`tr[data-cluster="${WORKER}"]`);
    // 3 GPUs of team-a's gang and 1 of team-b's, of 8.
    await until(async () => {
      await page.reload();
      expect(await row.locator('[data-testid=gpus]').innerText({ timeout: 5000 })).toBe('4 / 8');
    }, 60_000);
    expect(await page.locator('.bar-value').innerText()).toBe('4 / 8');
    // GPU utilisation over the last day, with what is held up to now: above 0, at most 100 %.
    const utilisation = async (token: string, by: string) =>
      fetch(`${hub.httpUrl}/api/v1/utilisation?by=${by}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
    const fleet = (await (await utilisation(ADMIN, 'cluster')).json()) as {
      groups: { name: string; total: { ratio?: number; capacityHours?: number } }[];
    };
    const mine = fleet.groups.find((g) => g.name === WORKER)!;
    expect(mine.total.capacityHours).toBeGreaterThan(0);
    expect(mine.total.ratio).toBeGreaterThan(0);
    expect(mine.total.ratio).toBeLessThanOrEqual(1);
    await page.locator('[data-testid=utilisation-chart] canvas').waitFor({ timeout: 5000 });
    const total = await page.locator('[data-testid=utilisation-total]').innerText();
    expect(total).toMatch(/^fleet: \d+\.\d% \(\d+\.\d\d of \d+\.\d\d GPU-hours allocated\)$/);
    expect(total).not.toMatch(/^fleet: 0\.0%/);
    // A viewer bound to one queue sees no cluster's figures (they hold other tenants' use).
    expect((await utilisation(VIEWER_A, 'cluster')).status).toBe(403);
    expect((await utilisation(VIEWER_A, 'queue')).status).toBe(200);
    expect((await utilisation(ADMIN, 'rack')).status).toBe(400);
    await shot(page, 'clusters-busy');
    await page.locator('a', { hasText: 'Jobs' }).click();
    await page.locator('tr[data-name="other-team"]').waitFor();
    await until(async () => expect(await page.locator('.state-running').count()).toBe(2));
    await shot(page, 'jobs-all');
    await page.context().close();
  });
});
