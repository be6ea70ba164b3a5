#!/usr/bin/env node
// Muster's main job end to end on this machine: real Kubernetes API servers (testbed), the hub
// on Postgres and Redis, one agent per worker cluster, example gangs, all shown with `muster`.
//   npm run demo            run it and tear everything down
//   npm run demo -- --keep  leave it running (prints how to use and stop it)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const keep = process.argv.includes('--keep');
const runDir = join(root, '.muster/demo');
mkdirSync(runDir, { recursive: true });

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
let stepNo = 0;
const step = (title) => console.log(`\n${bold(`[${++stepNo}/10] ${title}`)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = [];
const agents = new Map();
let testbed;
let hubAddress;

function muster(args, { show = true, allowFail = false } = {}) {
  if (show) console.log(dim(`$ muster ${args.join(' ')}`));
  try {
    const out = execFileSync(process.execPath, [join(root, 'apps/cli/dist/main.js'), ...args], {
      cwd: root,
      env: {
        ...process.env,
        MUSTER_HUB: hubAddress,
        MUSTER_CONFIG: join(runDir, 'cli-config.yaml'),
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (show && out.trim()) console.log(out.trimEnd());
    return out;
  } catch (err) {
    if (show) console.log(`${err.stdout ?? ''}${err.stderr ?? ''}`.trimEnd());
    if (!allowFail) throw err;
    return `${err.stdout ?? ''}`;
  }
}

/** Creates each CRD (from its YAML file) on `cluster` and waits until its API is served. */
async function installCrds(cluster, files) {
  const { kubeJSON, kubeRequest } = require(join(root, 'infra/testbed/dist/index.js'));
  const { parse } = require('yaml');
  const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  for (const file of files) {
    const crd = parse(readFileSync(join(root, file), 'utf8'));
    await kubeJSON(cluster, 'POST', path, crd, [409]);
    const { group, names, versions } = crd.spec;
    const probe = `/apis/${group}/${versions[0].name}/${names.plural}`;
    for (let i = 0; (await kubeRequest(cluster, 'GET', probe)).status !== 200; i++) {
      if (i > 300) throw new Error(`CRD ${crd.metadata.name} was not served within a minute`);
      await sleep(200);
    }
  }
}

/** The PlacementDecisions Muster wrote, as `kubectl get placementdecisions -A` would list them. */
async function showPlacementDecisions(cluster) {
  const { kubeJSON } = require(join(root, 'infra/testbed/dist/index.js'));
  const path = '/apis/multicluster.x-k8s.io/v1alpha1/placementdecisions';
  let items = [];
  for (let i = 0; i < 50 && items.length === 0; i++) {
    items = (await kubeJSON(cluster, 'GET', path)).items ?? [];
    if (items.length === 0) await sleep(200);
  }
  console.log(`$ kubectl get placementdecisions -A  ${dim('(on the management cluster)')}`);
  const rows = items.map((d) => [
    d.metadata.name,
    d.metadata.annotations?.['muster.dev/job-name'] ?? '-',
    d.decisions?.[0]?.clusterProfileRef?.name ?? '-',
    d.decisions?.[0]?.reason ?? '',
  ]);
  const head = ['NAME', 'JOB', 'CLUSTER', 'REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows])
    console.log(r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c)).join('  '));
}

/** Kueue's sample Job, created on the management cluster as `kubectl create` would, run by Muster. */
async function frontDoor(cluster) {
  const { kubeJSON } = require(join(root, 'infra/testbed/dist/index.js'));
  console.log(
    dim('  # or kubectl create on the management cluster: a Job with a queue label, suspended'),
  );
  console.log(
    `$ kubectl create -f tools/demo/sample-job.yaml  ${dim('(on the management cluster)')}`,
  );
  const { parse } = require('yaml');
  const job = parse(readFileSync(join(root, 'tools/demo/sample-job.yaml'), 'utf8'));
  const path = '/apis/batch/v1/namespaces/default/jobs';
  const created = await kubeJSON(cluster, 'POST', path, job);
  let a = {};
  for (let i = 0; i < 300 && !['Running', 'Succeeded'].includes(a['muster.dev/state']); i++) {
    await sleep(200);
    a =
      (await kubeJSON(cluster, 'GET', `${path}/${created.metadata.name}`)).metadata.annotations ??
      {};
  }
  console.log(`$ kubectl get job ${created.metadata.name} -o jsonpath='{.metadata.annotations}'`);
  for (const [k, v] of Object.entries(a).filter(([k]) => k.startsWith('muster.dev/')))
    console.log(`  ${k}: ${v}`);
  const selector = encodeURIComponent(`involvedObject.uid=${created.metadata.uid}`);
  const events = (
    await kubeJSON(cluster, 'GET', `/api/v1/namespaces/default/events?fieldSelector=${selector}`)
  ).items;
  console.log(`$ kubectl get events --field-selector involvedObject.name=${created.metadata.name}`);
  for (const e of events) console.log(`  ${e.type.padEnd(7)} ${e.reason.padEnd(11)} ${e.message}`);
  console.log(dim('  # its pods run where Muster put them; the Job stays suspended here'));
  console.log(`$ kubectl delete job ${created.metadata.name}`);
  await kubeJSON(cluster, 'DELETE', `${path}/${created.metadata.name}`, {
    propagationPolicy: 'Background',
  });
  const id = a['muster.dev/job-id'];
  for (let i = 0; i < 100; i++) {
    const j = JSON.parse(muster(['get', id, '-o', 'json'], { show: false }));
    if (j.state === 'JOB_STATE_CANCELLED') break;
    await sleep(200);
  }
  muster(['get', id]);
}

async function teardown() {
  for (const c of children.reverse()) c.kill('SIGTERM');
  await sleep(500);
  if (testbed) await testbed.stop().catch(() => undefined);
}

async function main() {
  console.log(bold('Muster demo: one hub, three worker clusters, gangs placed whole, never twice'));
  step('Postgres, Redis, npm packages, generated code and the build');
  execFileSync('bash', ['tools/ensure-services.sh'], { cwd: root, stdio: 'inherit' });
  execFileSync('bash', ['tools/ensure-install.sh'], { cwd: root, stdio: 'inherit' });
  const { startTestbed, DEMO_TOPOLOGY } = require(join(root, 'infra/testbed/dist/index.js'));
  const { Client } = require('pg');

  step('Starting 1 management + 3 worker Kubernetes clusters (real kube-apiservers, kwok nodes)');
  const started = Date.now();
  testbed = await startTestbed(DEMO_TOPOLOGY, {
    detached: keep,
    log: (m) => console.log(dim(`  ${m}`)),
  });
  const workers = testbed.clusters.filter((c) => c.role === 'worker');
  for (const c of testbed.clusters)
    console.log(
      `  ${c.name.padEnd(10)} ${c.server}  ${c.nodes.length} nodes  kubeconfig ${c.kubeconfigPath}`,
    );
  console.log(`  ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The management cluster holds what Muster shares with GitOps tools and MultiKueue: its
  // ClusterProfiles and a PlacementDecision per running gang, so it needs their CRDs.
  const management = testbed.management;
  await installCrds(management, [
    'infra/crds/clusterprofiles.multicluster.x-k8s.io.yaml',
    'infra/crds/placementdecisions.multicluster.x-k8s.io.yaml',
  ]);

  step('Starting the hub (database muster_demo, fresh)');
  const admin = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS muster_demo WITH (FORCE)');
  await admin.query('CREATE DATABASE muster_demo');
  await admin.end();
  const port = await freePort();
  hubAddress = `127.0.0.1:${port}`;
  // The hub reaches the workers' API servers the way Argo CD and MultiKueue do, through each
  // cluster's registered access provider and an exec credential plugin (here a token file), so it
  // can confirm a lost cluster's gangs gone before it places them elsewhere.
  const tokenFile = join(runDir, 'tokens.json');
  writeFileSync(
    tokenFile,
    JSON.stringify(Object.fromEntries(workers.map((w) => [w.server, w.token]))),
  );
  const providerFile = join(runDir, 'providers.json');
  writeFileSync(
    providerFile,
    JSON.stringify({
      providers: [
        {
          name: 'muster',
          execConfig: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: process.execPath,
            args: [
              join(root, 'infra/inventory/muster-token-plugin.mjs'),
              '--token-file',
              tokenFile,
            ],
            provideClusterInfo: true,
          },
        },
      ],
    }),
  );
  const hubLog = join(runDir, 'hub.log');
  const httpPort = await freePort();
  const hub = spawn(process.execPath, [join(root, 'apps/hub/dist/main.js')], {
    cwd: root,
    env: {
      ...process.env,
      MUSTER_GRPC_ADDR: hubAddress,
      MUSTER_HTTP_PORT: String(httpPort),
      MUSTER_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/muster_demo',
      MUSTER_REDIS_PREFIX: `muster-demo-${process.pid}`,
      // The demo runs on loopback only: plain text, no tokens (the hub warns about it).
      MUSTER_DEV_INSECURE: 'true',
      MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: providerFile,
      MUSTER_INVENTORY_KUBECONFIG: management.kubeconfigPath,
      // Short, so the demo shows a lost cluster in seconds (defaults: 60 s and 40 s).
      MUSTER_WORKER_LOST_TIMEOUT_MS: '12000',
      MUSTER_SELF_FENCE_TIMEOUT_MS: '6000',
      MUSTER_FENCE_DELETE_GRACE_S: '2',
      MUSTER_HEARTBEAT_INTERVAL_MS: '1000',
    },
    stdio: ['ignore', openSync(hubLog, 'w'), openSync(hubLog, 'a')],
    detached: keep,
  });
  children.push(hub);
  for (let i = 0; ; i++) {
    if (hub.exitCode !== null)
      throw new Error(
        `the hub exited (code ${hub.exitCode}):\n${readFileSync(hubLog, 'utf8').slice(-2000)}`,
      );
    if (muster(['queues', 'list'], { show: false, allowFail: true }) !== '' || i > 100) break;
    await sleep(200);
  }
  console.log(`  hub on ${hubAddress}, log ${hubLog}`);
  console.log(`  web console: http://127.0.0.1:${httpPort}/console/ (development mode: no token)`);

  step('Registering the worker clusters and starting one agent in each');
  muster(['queues', 'create', 'research', '--description', 'demo queue']);
  for (const w of workers) {
    const caFile = join(runDir, `${w.name}-ca.pem`);
    writeFileSync(caFile, w.ca);
    muster([
      'clusters',
      'register',
      w.name,
      '--cluster-set',
      'demo',
      '--server',
      w.server,
      '--ca-file',
      caFile,
    ]);
    const agentLog = join(runDir, `agent-${w.name}.log`);
    agents.set(
      w.name,
      spawn(process.execPath, [join(root, 'apps/agent/dist/main.js')], {
        cwd: root,
        env: {
          ...process.env,
          MUSTER_HUB: hubAddress,
          MUSTER_CLUSTER: w.name,
          KUBECONFIG: w.kubeconfigPath,
        },
        stdio: ['ignore', openSync(agentLog, 'w'), openSync(agentLog, 'a')],
        detached: keep,
      }),
    );
    children.push(agents.get(w.name));
  }
  for (let i = 0; i < 150; i++) {
    const clusters = JSON.parse(
      muster(['clusters', 'list', '-o', 'json'], { show: false, allowFail: true }) || '[]',
    );
    const list = Array.isArray(clusters) ? clusters : (clusters.clusters ?? []);
    if (
      list.length === workers.length &&
      list.every(
        (c) => c.agentState === 'AGENT_STATE_CONNECTED' && (c.capacity?.nodeCount ?? 0) > 0,
      )
    )
      break;
    await sleep(200);
  }
  muster(['clusters', 'list']);

  step('Submitting example gangs');
  const submitted = {};
  for (const [key, file, name, note] of [
    ['rack', 'tools/demo/rack-gang.yaml', 'llm-pretrain', '4 × 8 GPUs, all in one rack'],
    ['big', 'tools/demo/too-big.yaml', 'moe-giant', '160 GPUs: more than any cluster has'],
    [
      'sweep',
      'tools/demo/many-small.yaml',
      'param-sweep',
      '460 tiny pods: more than worker-a has pod slots',
    ],
    [
      'job',
      'apps/cli/examples/job.yaml',
      'resnet-train',
      'a plain batch/v1 Job, 4 pods as one gang',
    ],
  ]) {
    console.log(dim(`  # ${note}`));
    muster(['submit', '-f', file, '--queue', 'research']);
    const listed = JSON.parse(muster(['list', '-o', 'json'], { show: false }));
    const jobs = Array.isArray(listed) ? listed : (listed.jobs ?? []);
    submitted[key] = jobs.find((j) => j.spec?.name === name)?.id;
  }

  step('Watching them');
  for (let i = 0; i < 400; i++) {
    const states = ['rack', 'job', 'sweep'].map(
      (k) => JSON.parse(muster(['get', submitted[k], '-o', 'json'], { show: false })).state,
    );
    if (states.every((s) => s === 'JOB_STATE_RUNNING' || s === 'JOB_STATE_SUCCEEDED')) break;
    await sleep(200);
  }
  muster(['list']);
  muster(['get', submitted.rack]);
  console.log(dim('  # all 460 members bound and running in one cluster, none left Pending'));
  muster(['get', submitted.sweep]);
  console.log(dim('  # why is the big one still queued?'));
  muster(['explain', submitted.big]);
  muster(['clusters', 'list']);
  console.log(
    dim(
      '  # the same choices on the management cluster, for GitOps tools: a PlacementDecision per',
    ),
  );
  console.log(dim('  # running gang, naming the ClusterProfile of its cluster'));
  await showPlacementDecisions(management);
  await frontDoor(management);
  console.log(dim('  # quotas: two queues of one cohort; interns lends at most 4 of its 8 GPUs'));
  muster([
    'queues',
    'create',
    'interns',
    '--quota',
    'nvidia.com/gpu=8',
    '--cohort',
    'demo',
    '--lending-limit',
    'nvidia.com/gpu=4',
  ]);
  muster(['queues', 'create', 'fellows', '--quota', 'nvidia.com/gpu=8', '--cohort', 'demo']);
  console.log(dim('  # 4 × 4 GPUs for fellows: more than its 8 plus the 4 interns lends'));
  muster(['submit', '-f', 'tools/demo/over-quota.yaml']);
  const overListed = JSON.parse(muster(['list', '-o', 'json'], { show: false }));
  const over = (Array.isArray(overListed) ? overListed : (overListed.jobs ?? [])).find(
    (j) => j.spec?.name === 'over-quota',
  )?.id;
  for (let i = 0; i < 50; i++) {
    const e = JSON.parse(muster(['explain', over, '-o', 'json'], { show: false }));
    if (/quota/.test(e.summary ?? '')) break;
    await sleep(200);
  }
  muster(['explain', over]);
  muster(['queues', 'list']);
  console.log(
    dim('  # cohorts nest: demo joins lab, which adds 4 GPUs of its own; now fellows fits'),
  );
  muster(['cohorts', 'create', 'lab', '--quota', 'nvidia.com/gpu=4']);
  muster(['cohorts', 'create', 'demo', '--parent', 'lab']);
  muster(['cohorts', 'list']);
  for (let i = 0; i < 50; i++) {
    const j = JSON.parse(muster(['get', over, '-o', 'json'], { show: false }));
    if (j.state !== 'JOB_STATE_QUEUED') break;
    await sleep(200);
  }
  muster(['get', over]);
  muster(['cancel', over]);

  step('DRA: a gang placed by the devices each cluster really has');
  console.log(dim('  # every worker publishes gpu.example.com devices; only worker-b has H100s'));
  muster(['clusters', 'get', 'worker-b']);
  muster(['submit', '-f', 'tools/demo/dra-gang.yaml', '--dry-run']);
  muster(['submit', '-f', 'tools/demo/dra-gang.yaml']);
  const draListed = JSON.parse(muster(['list', '-o', 'json'], { show: false }));
  const dra = (Array.isArray(draListed) ? draListed : (draListed.jobs ?? [])).find(
    (j) => j.spec?.name === 'nvlink-finetune',
  )?.id;
  let draJob;
  for (let i = 0; i < 300; i++) {
    draJob = JSON.parse(muster(['get', dra, '-o', 'json'], { show: false }));
    if (draJob.state === 'JOB_STATE_RUNNING') break;
    await sleep(200);
  }
  muster(['get', dra]);
  const { kubeJSON } = require(join(root, 'infra/testbed/dist/index.js'));
  const where = testbed.cluster(draJob.cluster);
  const claims = (await kubeJSON(where, 'GET', '/apis/resource.k8s.io/v1/resourceclaims')).items;
  const slices = (await kubeJSON(where, 'GET', '/apis/resource.k8s.io/v1/resourceslices')).items;
  const domainOf = new Map(
    slices.flatMap((s) =>
      (s.spec.devices ?? []).map((d) => [
        `${s.spec.pool.name}/${d.name}`,
        d.attributes?.interconnect?.string,
      ]),
    ),
  );
  const domains = new Set();
  const ownPrefix = `m-${dra.replace(/-/g, '').slice(0, 12)}-`;
  for (const c of claims) {
    const results = c.status?.allocation?.devices?.results ?? [];
    // The claims of this gang's members (named after the gang id, as the agent names them).
    if (results.length === 0 || !c.metadata.name.startsWith(ownPrefix)) continue;
    for (const r of results) domains.add(domainOf.get(`${r.pool}/${r.device}`));
    console.log(
      dim(
        `  # ${draJob.cluster}'s scheduler allocated ${c.metadata.name}: ${results.map((r) => `${r.pool}/${r.device}`).join(' ')}`,
      ),
    );
  }
  console.log(dim(`  # all of them in NVLink domain ${[...domains].join(', ')}`));

  step('A killed agent: the gang moves only once its old copy is confirmed gone');
  console.log(dim('  # a Job that asks to be placed elsewhere if its cluster is lost'));
  muster([
    'submit',
    '-f',
    'apps/cli/examples/job.yaml',
    '--queue',
    'research',
    '--name',
    'elastic-train',
    '--on-cluster-lost',
    'requeue',
  ]);
  const listed = JSON.parse(muster(['list', '-o', 'json'], { show: false }));
  const elastic = (Array.isArray(listed) ? listed : (listed.jobs ?? [])).find(
    (j) => j.spec?.name === 'elastic-train',
  )?.id;
  const getElastic = () => JSON.parse(muster(['get', elastic, '-o', 'json'], { show: false }));
  let before;
  for (let i = 0; i < 300; i++) {
    before = getElastic();
    if (before.state === 'JOB_STATE_RUNNING') break;
    await sleep(200);
  }
  console.log(dim(`  # running on ${before.cluster}; SIGKILL its agent (its pods keep running)`));
  agents.get(before.cluster)?.kill('SIGKILL');
  const killedAt = Date.now();
  let after;
  for (let i = 0; i < 600; i++) {
    after = getElastic();
    if (after.state === 'JOB_STATE_RUNNING' && after.cluster !== before.cluster) break;
    await sleep(200);
  }
  console.log(
    dim(
      `  # ${((Date.now() - killedAt) / 1000).toFixed(1)} s later: ${before.cluster} was declared lost, the hub ` +
        'deleted the old pods through its API server, saw none left, and only then placed the gang again',
    ),
  );
  muster(['get', elastic]);

  step('Draining a cluster for an upgrade: every gang there gets a notice, then moves');
  console.log(
    dim(
      `  # each member of each gang on ${after.cluster} gets the muster.dev/eviction-notice annotation ` +
        'and an Event, 5 s to checkpoint, then is deleted and its gang requeued, never failed',
    ),
  );
  muster([
    'clusters',
    'drain',
    after.cluster,
    '--grace',
    '5s',
    '--reason',
    'node upgrade',
    '--wait',
  ]);
  console.log(
    dim('  # requeued, not failed, keeping its place; it runs again wherever there is room'),
  );
  muster(['get', elastic]);
  muster(['clusters', 'uncordon', after.cluster]);
  console.log(dim('  # what the GPUs bought were used for during the demo, per cluster'));
  muster(['report', 'utilisation', '--since', '1h', '--by', 'cluster']);

  step(keep ? 'Left running' : 'Done; tearing down');
  writeFileSync(join(runDir, 'env'), `export MUSTER_HUB=${hubAddress}\n`);
  writeFileSync(join(runDir, 'testbed-state.json'), JSON.stringify(testbed.state, null, 2));
  if (keep) {
    console.log(
      `  the hub is at ${hubAddress}; try:  MUSTER_HUB=${hubAddress} node apps/cli/dist/main.js list`,
    );
    console.log(`  web console: http://127.0.0.1:${httpPort}/console/`);
    console.log(
      `  kubectl: KUBECONFIG=${testbed.kubeconfigPath} kubectl --context worker-b get pods -o wide`,
    );
    console.log(
      `  stop it: kill ${children.map((c) => c.pid).join(' ')} && node infra/testbed/dist/cli.js down -s .muster/demo/testbed-state.json`,
    );
    process.exit(0);
  }
}

main()
  .catch((err) => {
    console.error(`\ndemo failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    if (!keep || process.exitCode) await teardown();
  });
