import { loadHubConfig } from '../config/hub-config';
import type { SpecLimits } from '../jobs/job-spec.mapper';
import { intake, type KubeObject } from './front-door.intake';
import { parseQueueRules } from './queue-rules';

const LIMITS: SpecLimits = loadHubConfig({});
const RULES = parseQueueRules(['*/*=*']);

/** Kueue's sample-job.yaml as the API server returns it (with server metadata and status). */
function sampleJob(): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'sample-job-x7k2p',
      namespace: 'team-a',
      uid: '6f1d6c9e-8a35-4b8e-9d43-8f3b1c0a7e21',
      generation: 1,
      resourceVersion: '812',
      labels: { 'kueue.x-k8s.io/queue-name': 'user-queue' },
    },
    spec: {
      parallelism: 3,
      completions: 3,
      suspend: true,
      template: {
        spec: {
          containers: [
            {
              name: 'dummy-job',
              image: 'registry.k8s.io/e2e-test-images/agnhost:2.53',
              command: ['/bin/sh'],
              args: ['-c', 'sleep 60'],
              resources: { requests: { cpu: '1', memory: '200Mi' } },
            },
          ],
          restartPolicy: 'Never',
        },
      },
    },
    status: { conditions: [{ type: 'Suspended', status: 'True' }] },
  };
}

describe('front door intake', () => {
  it('takes a Job as one gang in the queue its label names, in its namespace', () => {
    const got = intake(sampleJob(), RULES, LIMITS);
    if ('refused' in got) throw new Error(got.refused.message);
    expect(got.spec.queue).toBe('user-queue');
    expect(got.spec.namespace).toBe('team-a');
    expect(got.spec.name).toBe('sample-job-x7k2p');
    expect(got.spec.gang.podSets.map((p) => p.count)).toEqual([3]);
  });

  it("follows the administrator's rule for the namespace", () => {
    const rules = parseQueueRules(['team-a/*=research', '*/*=*']);
    const got = intake(sampleJob(), rules, LIMITS);
    if ('refused' in got) throw new Error(got.refused.message);
    expect(got.spec.queue).toBe('research');
  });

  it('refuses an object no rule takes, naming the label', () => {
    const got = intake(sampleJob(), parseQueueRules(['team-b/*=*']), LIMITS);
    expect(got).toEqual({
      refused: {
        field: 'metadata.labels["kueue.x-k8s.io/queue-name"]',
        message:
          'no rule of MUSTER_FRONT_DOOR_QUEUES takes namespace team-a with queue "user-queue"',
      },
    });
  });

  it('prefers the muster.dev/queue label over Kueue’s', () => {
    const job = sampleJob();
    job.metadata.labels = { ...job.metadata.labels, 'muster.dev/queue': 'serve' };
    const got = intake(job, RULES, LIMITS);
    if ('refused' in got) throw new Error(got.refused.message);
    expect(got.spec.queue).toBe('serve');
    expect(got.spec.labels).not.toHaveProperty(['muster.dev/queue']);
  });

  it('refuses a bad queue name at the label that carried it', () => {
    const job = sampleJob();
    job.metadata.labels = { 'muster.dev/queue': 'Not_A_Queue' };
    const got = intake(job, RULES, LIMITS);
    expect('refused' in got && got.refused.field).toBe('metadata.labels["muster.dev/queue"]');
  });

  it('refuses a pod template the hub would refuse, naming the object field', () => {
    const job = sampleJob();
    const containers = (job.spec as { template: { spec: { containers: { image: string }[] } } })
      .template.spec.containers;
    containers[0]!.image = '';
    const got = intake(job, RULES, LIMITS);
    if (!('refused' in got)) throw new Error('accepted a container without an image');
    expect(got.refused.field).toBe('spec.template.spec.containers[0].image');
  });

  it('refuses a negative parallelism naming spec.parallelism', () => {
    const job = sampleJob();
    (job.spec as { parallelism: number }).parallelism = -1;
    const got = intake(job, RULES, LIMITS);
    if (!('refused' in got)) throw new Error('accepted parallelism -1');
    expect(got.refused.field).toBe('spec.parallelism');
  });
});
