// One queue's unplaceable gangs must not starve the others: a cycle takes each queue's head in
// turns rather than cutting one global priority order (review finding 10). Real hub process,
// Postgres and Redis, one scripted agent.
import { randomUUID } from 'node:crypto';
import { JobState, type HubClients } from '@muster/api';
import { connectFakeCluster, eventually, type FakeCluster } from '../support/fake-agent';
import { jobSpec, podSet } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';

const PER_CYCLE = 10;

let env: HubEnvironment;
let api: HubClients;
let east: FakeCluster;

beforeAll(async () => {
  env = await startHubEnvironment({
    env: { MUSTER_MAX_GANGS_PER_CYCLE: String(PER_CYCLE), MUSTER_CYCLE_PERIOD_MS: '300' },
    queues: ['greedy', 'modest'],
  });
  api = env.api;
  east = await connectFakeCluster(api, env.hub.grpcAddress, 'east', [
    { name: 'east-n0', allocatable: { cpu: '64', memory: '256Gi', 'nvidia.com/gpu': '8' } },
  ]);
});

afterAll(async () => {
  east?.close();
  await env?.stop();
});

it("places a low-priority gang of one queue while another queue's head fits nowhere", async () => {
  // A full cycle's worth of top-priority gangs that no cluster can hold.
  for (let i = 0; i < PER_CYCLE; i++) {
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('greedy', {
        name: `huge-${i}`,
        priority: 100,
        podSets: [podSet('w', 1, { 'nvidia.com/gpu': '10000' })],
      }),
    });
  }
  const small = (
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('modest', {
        name: 'small',
        priority: 0,
        podSets: [podSet('w', 1, { 'nvidia.com/gpu': '1' })],
      }),
    })
  ).job!.id;
  const d = await eventually(
    'the modest gang dispatched',
    () => east.agent.dispatches().find((x) => x.gangId === small),
    20_000,
  );
  expect(d.gangId).toBe(small);
  // The greedy gangs are still queued, each explained.
  const { jobs } = await api.jobs.listJobs({
    queue: 'greedy',
    states: [],
    pageSize: 100,
    pageToken: '',
  });
  expect(jobs).toHaveLength(PER_CYCLE);
  expect(new Set(jobs.map((j) => j.state))).toEqual(new Set([JobState.JOB_STATE_QUEUED]));
});
