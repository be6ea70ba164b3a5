import { notFound, StandInHub } from '../testing/stand-in-hub';
import {
  AgentState,
  Cluster,
  InventoryServiceService,
  type DrainClusterRequest,
  type HubClients,
} from '@muster/api';
import { CliError } from '../errors';
import { waitUntilDrained } from '../hub/drain-wait';
import type { HubConnection } from '../hub/hub-connection';
import { runCapturing } from '../testing/run-cli';

const run = (argv: string[]) => runCapturing(argv, { now: new Date('2025-01-01T12:05:00Z') });

function cluster(name: string): Cluster {
  return Cluster.fromPartial({
    name,
    clusterManager: 'muster',
    agentState: AgentState.AGENT_STATE_CONNECTED,
    agentVersion: '0.3.1',
    topologyLevels: ['kubernetes.io/hostname'],
    createdAt: new Date('2025-01-01T11:00:00Z'),
  });
}

/** Answers the cluster calls of the inventory service from memory, recording each request. */
class StandInInventory extends StandInHub {
  readonly clusters = new Map<string, Cluster>();
  /** Gangs the next drain notices, and the gangs left each later getCluster reports in turn. */
  noticed: string[] = [];
  gangsLeft: number[] = [];

  async start(): Promise<this> {
    const reply = this.reply.bind(this);
    return this.serve(InventoryServiceService, {
      getCluster: reply('getCluster', (req: { name: string }) => {
        const found = this.clusters.get(req.name);
        if (!found) return notFound('cluster', req.name);
        const left = this.gangsLeft.shift();
        if (found.drain && left !== undefined) found.drain.gangsLeft = left;
        return { cluster: found };
      }),
      listClusters: reply('listClusters', () => ({ clusters: [...this.clusters.values()] })),
      drainCluster: reply('drainCluster', (req: DrainClusterRequest) => {
        const found = this.clusters.get(req.name);
        if (!found) return notFound('cluster', req.name);
        found.cordoned = true;
        found.drain = {
          since: new Date('2025-01-01T12:00:00Z'),
          graceSeconds: req.graceSeconds,
          reason: req.reason,
          gangsLeft: this.noticed.length,
        };
        return { cluster: found, noticedJobIds: this.noticed };
      }),
      uncordonCluster: reply('uncordonCluster', (req: { name: string }) => {
        const found = this.clusters.get(req.name);
        if (!found) return notFound('cluster', req.name);
        found.cordoned = false;
        delete found.drain;
        return { cluster: found };
      }),
    });
  }
}

describe('muster clusters drain, against a stand-in hub', () => {
  let hub: StandInInventory;
  beforeAll(async () => (hub = await new StandInInventory().start()));
  afterAll(() => hub.stop());
  beforeEach(() => {
    hub.clusters.clear();
    hub.clusters.set('gpu-east', cluster('gpu-east'));
    hub.calls.splice(0);
    hub.noticed = [];
    hub.gangsLeft = [];
  });
  const muster = (...argv: string[]) => run(['--hub', hub.address, ...argv]);

  it('sends the grace in seconds and the reason, and says what happens to the gangs', async () => {
    hub.noticed = ['j1', 'j2', 'j3'];
    const r = await muster(
      'clusters',
      'drain',
      'gpu-east',
      '--grace',
      '10m',
      '--reason',
      'upgrade',
    );
    expect(r).toEqual({
      code: 0,
      stdout:
        'cluster gpu-east drained: 3 gangs given a notice of 10m; they are deleted after it and placed elsewhere\n',
      stderr: '',
    });
    expect(hub.calls).toEqual([
      ['drainCluster', { name: 'gpu-east', graceSeconds: 600, reason: 'upgrade' }],
    ]);
  });

  it.each([
    ['30s', 30, '30s'],
    ['1h30m', 5400, '1h30m'],
    ['90', 90, '1m30s'],
    ['0', 0, '0s'],
    ['24h', 86_400, '24h'],
  ])('reads --grace %s as %d seconds', async (flag, seconds, shown) => {
    hub.noticed = ['j1'];
    const r = await muster('clusters', 'drain', 'gpu-east', '--grace', flag);
    expect(r.stdout).toBe(
      `cluster gpu-east drained: 1 gang given a notice of ${shown}; it is deleted after it and placed elsewhere\n`,
    );
    expect(hub.calls.pop()).toEqual([
      'drainCluster',
      { name: 'gpu-east', graceSeconds: seconds, reason: '' },
    ]);
  });

  it.each(['10x', '1.5h', '25h', '-1', 'm', ''])(
    'refuses --grace %j naming the flag, before asking the hub',
    async (flag) => {
      expect(await muster('clusters', 'drain', 'gpu-east', '--grace', flag)).toEqual({
        code: 2,
        stdout: '',
        stderr: `error: option '--grace <duration>' argument '${flag}' is invalid. must be a duration such as 30s, 10m or 1h30m, or a number of seconds, from 0 to 24h.\n(add --help for usage)\n`,
      });
      expect(hub.calls).toEqual([]);
    },
  );

  it('needs --grace, so that no drain deletes gangs at once by accident', async () => {
    const r = await muster('clusters', 'drain', 'gpu-east');
    expect([r.code, r.stderr.split('\n')[0]]).toEqual([
      2,
      "error: required option '--grace <duration>' not specified",
    ]);
  });

  it('prints the DrainClusterResponse with -o json', async () => {
    hub.noticed = ['j1'];
    const r = await muster('clusters', 'drain', 'gpu-east', '--grace', '1m', '-o', 'json');
    expect(JSON.parse(r.stdout)).toMatchObject({
      cluster: { name: 'gpu-east', cordoned: true, drain: { graceSeconds: 60, gangsLeft: 1 } },
      noticedJobIds: ['j1'],
    });
  });

  it('shows the drain in list and get, and uncordon ends it', async () => {
    hub.noticed = ['j1', 'j2'];
    await muster(
      'clusters',
      'drain',
      'gpu-east',
      '--grace',
      '10m',
      '--reason',
      'node pool upgrade',
    );
    let r = await muster('clusters', 'list');
    expect(r.stdout).toMatch(/\ngpu-east\s+Connected,Draining\s+0\.3\.1\s/);
    r = await muster('clusters', 'get', 'gpu-east');
    expect(r.stdout).toContain('Status:          Connected,Draining\n');
    expect(r.stdout).toContain(
      'Drain:\n' +
        '  Since:       2025-01-01T12:00:00.000Z (5m ago)\n' +
        '  Grace:       10m\n' +
        '  Reason:      node pool upgrade\n' +
        '  Gangs left:  2\n' +
        'Capacity:\n',
    );
    await muster('clusters', 'uncordon', 'gpu-east');
    r = await muster('clusters', 'get', 'gpu-east');
    expect(r.stdout).toContain('Status:          Connected\n');
    expect(r.stdout).not.toContain('Drain:');
  });

  it('with --wait, says at once when the cluster holds no gang', async () => {
    const r = await muster('clusters', 'drain', 'gpu-east', '--grace', '30s', '--wait');
    expect(r).toEqual({
      code: 0,
      stdout:
        'cluster gpu-east drained: 0 gangs given a notice of 30s; they are deleted after it and placed elsewhere\n' +
        'cluster gpu-east is empty\n',
      stderr: '',
    });
    expect(hub.calls.map(([name]) => name)).toEqual(['drainCluster']);
  });

  it('with --wait, asks for the cluster until no gang is left', async () => {
    hub.noticed = ['j1'];
    hub.gangsLeft = [0];
    const r = await muster('clusters', 'drain', 'gpu-east', '--grace', '30s', '--wait');
    expect(r).toEqual({
      code: 0,
      stdout:
        'cluster gpu-east drained: 1 gang given a notice of 30s; it is deleted after it and placed elsewhere\n' +
        'gangs left: 1\n' +
        'cluster gpu-east is empty\n',
      stderr: '',
    });
    expect(hub.calls.map(([name]) => name)).toEqual(['drainCluster', 'getCluster']);
  });

  it('says when the cluster does not exist', async () => {
    const r = await muster('clusters', 'drain', 'nope', '--grace', '1m');
    expect([r.code, r.stderr]).toEqual([3, 'error: cluster "nope" not found\n']);
  });
});

describe('waitUntilDrained', () => {
  /** A hub whose getCluster answers the next of `answers` each time. */
  function hubAnswering(answers: (Cluster | undefined)[]): HubConnection {
    const clients = {
      inventory: {
        getCluster: () => Promise.resolve({ cluster: answers.shift() }),
      },
    } as unknown as HubClients;
    return {
      clients,
      call: (invoke: (x: HubClients) => Promise<unknown>) => invoke(clients),
    } as unknown as HubConnection;
  }
  const drained = (gangsLeft: number): Cluster => ({
    ...cluster('gpu-east'),
    cordoned: true,
    drain: { graceSeconds: 60, reason: '', gangsLeft },
  });
  const noSleep = () => Promise.resolve();

  it('tells each new count of gangs left, then ends once there is none', async () => {
    const seen: number[] = [];
    const end = await waitUntilDrained(
      hubAnswering([drained(3), drained(2), drained(2), drained(0)]),
      'gpu-east',
      3,
      { onProgress: (n) => seen.push(n), sleep: noSleep },
    );
    expect([end, seen]).toEqual(['empty', [3, 2]]);
  });

  it('fails when the drain ended before the cluster emptied (uncordoned)', async () => {
    await expect(
      waitUntilDrained(hubAnswering([cluster('gpu-east')]), 'gpu-east', 1, {
        onProgress: () => undefined,
        sleep: noSleep,
      }),
    ).rejects.toEqual(
      new CliError(
        'cluster gpu-east is not drained any more (it was uncordoned); the gangs that had their notice still go',
      ),
    );
  });

  it('stops when its signal fires (Ctrl-C), leaving the drain to the hub', async () => {
    const stop = new AbortController();
    const answers = [drained(2), drained(2), drained(2)];
    const end = await waitUntilDrained(hubAnswering(answers), 'gpu-east', 2, {
      onProgress: () => undefined,
      signal: stop.signal,
      sleep: (_ms, signal) => {
        if (answers.length === 1) stop.abort();
        return signal?.aborted ? Promise.reject(new Error('aborted')) : Promise.resolve();
      },
    });
    expect([end, answers.length]).toEqual(['interrupted', 1]);
  });
});
