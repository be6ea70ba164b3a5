import { JobSpec, JobState, OnClusterLost, TopologyMode } from '@muster/api';
import { MusterError } from '../common/errors';
import type { Job } from './job.domain';
import {
  afterSequenceToDomain,
  cancelReasonToDomain,
  jobIdToDomain,
  jobListingToDomain,
  jobToProto,
  pageTokenToProto,
  queueFilterToDomain,
} from './job.proto-mapper';
import { jobSpecToDomain } from './job-spec.mapper';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof MusterError) return err.field;
    throw err;
  }
  throw new Error('expected a refusal');
}

const listing = { queue: '', states: [], pageSize: 0, pageToken: '' };

describe('requests into the domain', () => {
  it('lower-cases a job id and refuses anything that is not a UUID', () => {
    expect(jobIdToDomain('0B0C4A8E-0000-4000-8000-00000000000A')).toBe(
      '0b0c4a8e-0000-4000-8000-00000000000a',
    );
    expect(fieldOf(() => jobIdToDomain(''))).toBe('job_id');
    expect(fieldOf(() => jobIdToDomain('train-1'))).toBe('job_id');
  });

  it('filters by a queue only when it could be a queue name (a DNS-1123 label)', () => {
    expect(queueFilterToDomain('')).toBeNull();
    expect(queueFilterToDomain('research')).toBe('research');
    for (const bad of ['-x-', 'Research', 'a_b', 'x'.repeat(64)])
      expect(fieldOf(() => queueFilterToDomain(bad))).toBe('queue');
  });

  it('defaults the page size and bounds it', () => {
    expect(jobListingToDomain(listing)).toEqual({ queue: null, states: [], limit: 100 });
    expect(jobListingToDomain({ ...listing, pageSize: 1000 }).limit).toBe(1000);
    for (const pageSize of [-1, 1001, 1.5])
      expect(fieldOf(() => jobListingToDomain({ ...listing, pageSize }))).toBe('page_size');
  });

  it('names the state that is unknown', () => {
    expect(jobListingToDomain({ ...listing, states: [JobState.JOB_STATE_RUNNING] }).states).toEqual(
      ['Running'],
    );
    expect(
      fieldOf(() =>
        jobListingToDomain({
          ...listing,
          states: [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_UNSPECIFIED],
        }),
      ),
    ).toBe('states[1]');
  });

  it('reads back its own page tokens and refuses any other', () => {
    const cursor = {
      createdAt: new Date('2026-12-02T10:00:00.123Z'),
      id: jobIdToDomain('0b0c4a8e-0000-4000-8000-00000000000a'),
    };
    const token = pageTokenToProto(cursor);
    expect(jobListingToDomain({ ...listing, pageToken: token }).after).toEqual(cursor);
    expect(pageTokenToProto(null)).toBe('');
    for (const pageToken of [
      'x',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('["2026-12-02", "not-a-uuid"]').toString('base64url'),
    ])
      expect(fieldOf(() => jobListingToDomain({ ...listing, pageToken }))).toBe('page_token');
  });

  it('bounds the sequence to resume after and the cancel reason', () => {
    expect(afterSequenceToDomain(0)).toBe(0);
    expect(fieldOf(() => afterSequenceToDomain(-1))).toBe('after_sequence');
    expect(fieldOf(() => afterSequenceToDomain(0.5))).toBe('after_sequence');
    expect(cancelReasonToDomain('x'.repeat(1024))).toHaveLength(1024);
    expect(fieldOf(() => cancelReasonToDomain('x'.repeat(1025)))).toBe('reason');
  });
});

describe('jobToProto', () => {
  it('gives the spec back as submitted, the pod templates as JSON', () => {
    const now = new Date();
    const job: Job = {
      id: '0b0c4a8e-0000-4000-8000-00000000000a',
      clientRequestId: null,
      specHash: 'h',
      name: 'train',
      queue: 'research',
      priority: 3,
      onClusterLost: 'requeue',
      namespace: 'default',
      labels: { team: 'a' },
      gang: {
        podSets: [
          {
            name: 'w',
            count: 2,
            template: { spec: { containers: [] } },
            requests: { cpu: '1' },
            topology: { mode: 'required', level: 'rack' },
          },
        ],
        groups: [],
      },
      maxRestarts: 2,
      evictionGraceSeconds: 120,
      priorityClass: 'high',
      restarts: 1,
      state: 'Running',
      reason: 'AllRunning',
      message: '',
      cluster: 'east',
      dispatchGeneration: 4,
      members: { total: 2, pending: 0, running: 2, succeeded: 0, failed: 0 },
      createdAt: now,
      updatedAt: now,
    };
    expect(jobToProto(job)).toMatchObject({
      state: JobState.JOB_STATE_RUNNING,
      cluster: 'east',
      clientRequestId: '',
      members: { bound: 0 },
      spec: {
        onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
        maxRestarts: 2,
        evictionGraceSeconds: 120,
        priorityClass: 'high',
        podSets: [
          {
            podTemplateJson: '{"spec":{"containers":[]}}',
            topology: { mode: TopologyMode.TOPOLOGY_MODE_REQUIRED, level: 'rack' },
          },
        ],
      },
    });
  });
});

describe('priority classes', () => {
  const wire = (over: Partial<JobSpec>) =>
    JobSpec.fromPartial({
      name: 'train',
      queue: 'research',
      podSets: [
        {
          name: 'w',
          count: 1,
          podTemplateJson: JSON.stringify({ spec: { containers: [{ name: 'c', image: 'i' }] } }),
        },
      ],
      ...over,
    });
  const limits = {
    maxPodSetsPerGang: 16,
    maxMembersPerGang: 100,
    priorityClasses: new Map([
      ['low', 0],
      ['high', 1000],
    ]),
  };

  it("gives a job its class's priority, and keeps the name", () => {
    expect(jobSpecToDomain(wire({ priorityClass: 'high' }), limits)).toMatchObject({
      priority: 1000,
      priorityClass: 'high',
    });
    // The same value given twice is no contradiction; a job without a class keeps its own.
    expect(jobSpecToDomain(wire({ priorityClass: 'high', priority: 1000 }), limits).priority).toBe(
      1000,
    );
    expect(jobSpecToDomain(wire({ priority: 7 }), limits)).toMatchObject({ priority: 7 });
    expect(jobSpecToDomain(wire({ priority: 7 }), limits)).not.toHaveProperty('priorityClass');
  });

  it.each<
    [Partial<JobSpec>, typeof limits | Omit<typeof limits, 'priorityClasses'>, string, RegExp]
  >([
    [{ priorityClass: 'urgent' }, limits, 'spec.priority_class', /the hub defines high, low/],
    [
      { priorityClass: 'urgent' },
      { maxPodSetsPerGang: 16, maxMembersPerGang: 100 },
      'spec.priority_class',
      /defines none: MUSTER_PRIORITY_CLASSES/,
    ],
    [
      { priorityClass: 'high', priority: 5 },
      limits,
      'spec.priority',
      /priority class "high" is 1000/,
    ],
  ])('refuses %j naming the field', (over, l, field, message) => {
    expect(fieldOf(() => jobSpecToDomain(wire(over), l))).toBe(field);
    expect(() => jobSpecToDomain(wire(over), l)).toThrow(message);
  });
});
