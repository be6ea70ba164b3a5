import { OnClusterLost, type Dispatch } from '@muster/api';
import type { PodApi } from './kube';
import { HubLease, selfFenceDue } from './fencing';
import { createLog } from '@muster/log';
import { ACCEPTED, materialise, REJECTED, type MaterialiseContext } from './materialise';
import { planGang, type GangPlan } from './pod-builder';

interface FakePod {
  labels: Record<string, string>;
  gated: boolean;
  deleting: boolean;
}

/** An in-memory stand-in for the four pod operations (the real API is exercised in tests/agent). */
class FakePods implements PodApi {
  readonly pods = new Map<string, FakePod>();
  readonly calls: string[] = [];
  inFlight = 0;
  peak = 0;
  failCreate = new Map<string, unknown>();
  failGate = new Map<string, unknown>();
  transientCreates = 0;

  private async step<T>(op: () => T): Promise<T> {
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    await new Promise((r) => setTimeout(r, 1));
    this.inFlight--;
    return op();
  }

  createPod(ns: string, body: object): Promise<void> {
    const b = body as { metadata: { name: string; labels: Record<string, string> } };
    const key = `${ns}/${b.metadata.name}`;
    return this.step(() => {
      this.calls.push(`create ${b.metadata.name}`);
      if (this.transientCreates > 0) {
        this.transientCreates--;
        throw new Error('socket hang up');
      }
      const fail = this.failCreate.get(b.metadata.name);
      if (fail) throw fail;
      if (this.pods.has(key)) {
        throw {
          code: 409,
          body: { reason: 'AlreadyExists', message: `pods "${b.metadata.name}" already exists` },
        };
      }
      this.pods.set(key, { labels: b.metadata.labels, gated: true, deleting: false });
    });
  }

  readPod(ns: string, name: string) {
    return this.step(() => {
      const p = this.pods.get(`${ns}/${name}`);
      return p ? { ...p } : undefined;
    });
  }

  removeGate(ns: string, name: string): Promise<void> {
    return this.step(() => {
      this.calls.push(`ungate ${name}`);
      const fail = this.failGate.get(name);
      if (fail) throw fail;
      const p = this.pods.get(`${ns}/${name}`);
      if (!p) throw { code: 404, body: { reason: 'NotFound', message: 'gone' } };
      p.gated = false;
    });
  }

  deletePod(ns: string, name: string): Promise<boolean> {
    return this.step(() => {
      this.calls.push(`delete ${name}`);
      return this.pods.delete(`${ns}/${name}`);
    });
  }

  readonly groups = new Map<string, { labels: Record<string, string>; minCount: number }>();
  failGroup: unknown;

  createPodGroup(ns: string, body: object): Promise<void> {
    const b = body as {
      metadata: { name: string; labels: Record<string, string> };
      spec: { schedulingPolicy: { gang: { minCount: number } } };
    };
    return this.step(() => {
      this.calls.push(`create podgroup ${b.metadata.name}`);
      if (this.failGroup) throw this.failGroup;
      const key = `${ns}/${b.metadata.name}`;
      if (this.groups.has(key)) {
        throw { code: 409, body: { reason: 'AlreadyExists', message: 'already exists' } };
      }
      this.groups.set(key, {
        labels: b.metadata.labels,
        minCount: b.spec.schedulingPolicy.gang.minCount,
      });
    });
  }

  readPodGroup(ns: string, name: string) {
    return this.step(() => {
      const g = this.groups.get(`${ns}/${name}`);
      return g ? { labels: g.labels, deleting: false } : undefined;
    });
  }

  deletePodGroup(ns: string, name: string): Promise<boolean> {
    return this.step(() => {
      this.calls.push(`delete podgroup ${name}`);
      return this.groups.delete(`${ns}/${name}`);
    });
  }

  readonly templates = new Map<string, { labels: Record<string, string>; spec: unknown }>();
  failTemplate: unknown;

  createClaimTemplate(ns: string, body: object): Promise<void> {
    const b = body as { metadata: { name: string; labels: Record<string, string> }; spec: unknown };
    return this.step(() => {
      this.calls.push(`create template ${b.metadata.name}`);
      if (this.failTemplate) throw this.failTemplate;
      const key = `${ns}/${b.metadata.name}`;
      if (this.templates.has(key)) {
        throw { code: 409, body: { reason: 'AlreadyExists', message: 'already exists' } };
      }
      this.templates.set(key, { labels: b.metadata.labels, spec: b.spec });
    });
  }

  readClaimTemplate(ns: string, name: string) {
    return this.step(() => {
      const t = this.templates.get(`${ns}/${name}`);
      return t ? { labels: t.labels, deleting: false } : undefined;
    });
  }

  deleteClaimTemplate(ns: string, name: string): Promise<boolean> {
    return this.step(() => {
      this.calls.push(`delete template ${name}`);
      return this.templates.delete(`${ns}/${name}`);
    });
  }
}

const quiet = createLog({ level: 'error', destination: { write: () => true } });

const CLAIM_SPEC = {
  devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu' } }] },
};

function gang(members: number[], workloadApi = false, claims = false): GangPlan {
  const d: Dispatch = {
    gangId: 'aaaabbbbccccdddd',
    jobId: 'j',
    fencingToken: 1,
    namespace: 'ns',
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: {},
    resourceClaimTemplates: claims ? [{ name: 'gpu', specJson: JSON.stringify(CLAIM_SPEC) }] : [],
    podSets: members.map((n, i) => ({
      name: `ps${i}`,
      podTemplateJson: JSON.stringify({
        spec: {
          containers: [{ name: 'c', image: 'i' }],
          ...(claims ? { resourceClaims: [{ name: 'g', resourceClaimTemplateName: 'gpu' }] } : {}),
        },
      }),
      members: Array.from({ length: n }, (_, index) => ({ index, nodeName: `n${index}` })),
      domainLevel: '',
      domainValue: '',
    })),
  };
  const r = planGang(d, { workloadApi });
  if (!r.ok) throw new Error(r.error.message);
  return r.plan;
}

function ctx(pods: PodApi, over: Partial<MaterialiseContext> = {}): MaterialiseContext {
  return {
    pods,
    concurrency: 8,
    log: quiet,
    abandoned: () => undefined,
    noteDeletion: () => undefined,
    retryInitialMs: 1,
    ...over,
  };
}

describe('materialise', () => {
  it('creates every member gated, then ungates them all, within the concurrency bound', async () => {
    const fake = new FakePods();
    const plan = gang([30, 10]);
    const o = await materialise(plan, ctx(fake));
    expect(o).toEqual({ outcome: ACCEPTED, reason: '', message: '40 members created and ungated' });
    expect(fake.pods.size).toBe(40);
    expect([...fake.pods.values()].every((p) => !p.gated)).toBe(true);
    expect(fake.peak).toBe(8);
    const firstUngate = fake.calls.findIndex((c) => c.startsWith('ungate'));
    const lastCreate = fake.calls.map((c) => c.startsWith('create')).lastIndexOf(true);
    expect(lastCreate).toBeLessThan(firstUngate);
  });

  it('rolls back every created member when one create is refused', async () => {
    const fake = new FakePods();
    const plan = gang([2, 1]);
    fake.failCreate.set(plan.members[2]!.name, {
      code: 422,
      body: {
        reason: 'Invalid',
        message: 'Pod "x" is invalid: spec.containers[0].name: Invalid value: "Bad_Name"',
      },
    });
    const deleted: string[] = [];
    const o = await materialise(
      plan,
      ctx(fake, { noteDeletion: (k, r) => deleted.push(`${k} ${r}`) }),
    );
    expect(o.outcome).toBe(REJECTED);
    expect(o.reason).toBe('CreateFailed');
    expect(o.message).toContain('Invalid: Pod "x" is invalid');
    expect(fake.pods.size).toBe(0);
    expect(fake.calls.some((c) => c.startsWith('ungate'))).toBe(false);
    expect(deleted).toHaveLength(3);
    expect(deleted[0]).toMatch(/ DispatchRejected$/);
  });

  it('stops starting creates after the first failure', async () => {
    const fake = new FakePods();
    const plan = gang([50]);
    fake.failCreate.set(plan.members[0]!.name, {
      code: 403,
      body: { reason: 'Forbidden', message: 'quota' },
    });
    await materialise(plan, ctx(fake, { concurrency: 1 }));
    expect(fake.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
  });

  it('is idempotent: a second run finds its own members and creates nothing new', async () => {
    const fake = new FakePods();
    const plan = gang([3]);
    await materialise(plan, ctx(fake));
    const before = new Map(fake.pods);
    const o = await materialise(plan, ctx(fake));
    expect(o.outcome).toBe(ACCEPTED);
    expect(fake.pods).toEqual(before);
  });

  it('refuses a name taken by a pod that is not this member', async () => {
    const fake = new FakePods();
    const plan = gang([2]);
    fake.pods.set(`ns/${plan.members[1]!.name}`, {
      labels: { app: 'other' },
      gated: false,
      deleting: false,
    });
    const o = await materialise(plan, ctx(fake));
    expect(o.outcome).toBe(REJECTED);
    expect(o.message).toContain('not a member of this gang');
  });

  it('retries transient failures', async () => {
    const fake = new FakePods();
    fake.transientCreates = 2;
    const o = await materialise(gang([2]), ctx(fake, { concurrency: 1 }));
    expect(o.outcome).toBe(ACCEPTED);
    expect(fake.pods.size).toBe(2);
  });

  it('rolls back when ungating fails', async () => {
    const fake = new FakePods();
    const plan = gang([3]);
    fake.failGate.set(plan.members[1]!.name, {
      code: 403,
      body: { reason: 'Forbidden', message: 'no patch' },
    });
    const o = await materialise(plan, ctx(fake));
    expect(o).toMatchObject({ outcome: REJECTED, reason: 'UngateFailed' });
    expect(o.message).toContain('Forbidden: no patch');
    expect(fake.pods.size).toBe(0);
  });

  it('gives up and cleans up when cancelled midway', async () => {
    const fake = new FakePods();
    let cancelled = false;
    const plan = gang([20]);
    const orig = fake.createPod.bind(fake);
    fake.createPod = async (ns, body) => {
      await orig(ns, body);
      if (fake.pods.size === 5) cancelled = true;
    };
    const o = await materialise(
      plan,
      ctx(fake, { concurrency: 2, abandoned: () => (cancelled ? 'Cancelled' : undefined) }),
    );
    expect(o).toMatchObject({ outcome: REJECTED, reason: 'Cancelled' });
    expect(fake.pods.size).toBe(0);
    expect(fake.calls.filter((c) => c.startsWith('create')).length).toBeLessThan(20);
  });

  it.each(['create', 'ungate'])(
    'creates or ungates nothing more once the lease ran out during a %s (an agent stopped and resumed)',
    async (step) => {
      const fake = new FakePods();
      const plan = gang([6]);
      // As the agent asks: the hub was last heard at 0; the process "resumes" at 10 s.
      const lease = new HubLease(0);
      let now = 0;
      const resumeAfter = <A extends unknown[], R>(op: (...a: A) => Promise<R>) => {
        let n = 0;
        return async (...a: A): Promise<R> => {
          const r = await op(...a);
          if (++n === 2) now = 10_000;
          return r;
        };
      };
      if (step === 'create') fake.createPod = resumeAfter(fake.createPod.bind(fake));
      else fake.removeGate = resumeAfter(fake.removeGate.bind(fake));
      const o = await materialise(
        plan,
        ctx(fake, {
          concurrency: 1,
          abandoned: () => (selfFenceDue(lease.lastHeardAt, 5000, now) ? 'SelfFenced' : undefined),
        }),
      );
      expect(o).toMatchObject({ outcome: REJECTED, reason: 'SelfFenced' });
      expect(fake.calls.filter((c) => c.startsWith(step))).toHaveLength(2);
      if (step === 'create') expect(fake.calls.some((c) => c.startsWith('ungate'))).toBe(false);
      expect(fake.pods.size).toBe(0);
    },
  );

  describe('with the Workload API', () => {
    it('creates the gang PodGroup (minCount = gang size) before any member, every member naming it', async () => {
      const fake = new FakePods();
      const plan = gang([3, 2], true);
      expect((await materialise(plan, ctx(fake))).outcome).toBe(ACCEPTED);
      expect(fake.calls[0]).toBe('create podgroup m-aaaabbbbcccc-1');
      expect([...fake.groups.entries()]).toEqual([
        [
          'ns/m-aaaabbbbcccc-1',
          {
            labels: {
              'muster.dev/gang-id': 'aaaabbbbccccdddd',
              'muster.dev/job-id': 'j',
              'muster.dev/fencing-token': '1',
            },
            minCount: 5,
          },
        ],
      ]);
      for (const m of plan.members) {
        expect(m.body.spec.schedulingGroup).toEqual({ podGroupName: 'm-aaaabbbbcccc-1' });
      }
      // A repeat finds its own PodGroup and goes on.
      expect((await materialise(plan, ctx(fake))).outcome).toBe(ACCEPTED);
      expect(fake.groups.size).toBe(1);
    });

    it('deletes the PodGroup with the members when a member create is refused', async () => {
      const fake = new FakePods();
      const plan = gang([3], true);
      fake.failCreate.set(plan.members[1]!.name, {
        code: 422,
        body: { reason: 'Invalid', message: 'bad' },
      });
      const o = await materialise(plan, ctx(fake));
      expect(o).toMatchObject({ outcome: REJECTED, reason: 'CreateFailed' });
      expect(fake.pods.size).toBe(0);
      expect(fake.groups.size).toBe(0);
      expect(fake.calls).toContain('delete podgroup m-aaaabbbbcccc-1');
    });

    it('refuses a foreign PodGroup of that name, creating no member and leaving it alone', async () => {
      const fake = new FakePods();
      const plan = gang([2], true);
      fake.groups.set('ns/m-aaaabbbbcccc-1', { labels: { app: 'someone-else' }, minCount: 9 });
      const o = await materialise(plan, ctx(fake));
      expect(o.outcome).toBe(REJECTED);
      expect(o.reason).toBe('CreateFailed');
      expect(o.message).toBe(
        "creating PodGroup m-aaaabbbbcccc-1: AlreadyExists: already exists (not this gang's PodGroup)",
      );
      expect(fake.calls.filter((c) => c.startsWith('create '))).toEqual([
        'create podgroup m-aaaabbbbcccc-1',
      ]);
      expect(fake.groups.get('ns/m-aaaabbbbcccc-1')?.minCount).toBe(9);
    });

    it("answers REJECTED with the API server's reason when the PodGroup is refused", async () => {
      const fake = new FakePods();
      fake.failGroup = {
        code: 403,
        body: { reason: 'Forbidden', message: 'podgroups is forbidden' },
      };
      const o = await materialise(gang([2], true), ctx(fake));
      expect(o).toMatchObject({
        outcome: REJECTED,
        reason: 'CreateFailed',
        message: 'creating PodGroup m-aaaabbbbcccc-1: Forbidden: podgroups is forbidden',
      });
      expect(fake.pods.size).toBe(0);
    });
  });

  describe('with ResourceClaimTemplates', () => {
    const TEMPLATE = 'm-aaaabbbbcccc-1-gpu';

    it("creates the gang's templates before any member, labelled with the gang", async () => {
      const fake = new FakePods();
      const plan = gang([2], true, true);
      expect((await materialise(plan, ctx(fake))).outcome).toBe(ACCEPTED);
      expect(fake.calls.slice(0, 2)).toEqual([
        'create podgroup m-aaaabbbbcccc-1',
        `create template ${TEMPLATE}`,
      ]);
      expect(fake.templates.get(`ns/${TEMPLATE}`)).toEqual({
        labels: {
          'muster.dev/gang-id': 'aaaabbbbccccdddd',
          'muster.dev/job-id': 'j',
          'muster.dev/fencing-token': '1',
        },
        spec: {
          metadata: {
            labels: {
              'muster.dev/gang-id': 'aaaabbbbccccdddd',
              'muster.dev/job-id': 'j',
              'muster.dev/fencing-token': '1',
            },
          },
          spec: CLAIM_SPEC,
        },
      });
      // A repeat finds its own template and goes on.
      expect((await materialise(plan, ctx(fake))).outcome).toBe(ACCEPTED);
      expect(fake.templates.size).toBe(1);
    });

    it('deletes the templates with the members when a member create is refused', async () => {
      const fake = new FakePods();
      const plan = gang([3], false, true);
      fake.failCreate.set(plan.members[2]!.name, {
        code: 422,
        body: { reason: 'Invalid', message: 'bad' },
      });
      const o = await materialise(plan, ctx(fake));
      expect(o).toMatchObject({ outcome: REJECTED, reason: 'CreateFailed' });
      expect(fake.pods.size).toBe(0);
      expect(fake.templates.size).toBe(0);
      expect(fake.calls).toContain(`delete template ${TEMPLATE}`);
    });

    it('refuses a foreign template of that name, creating no member and leaving it alone', async () => {
      const fake = new FakePods();
      fake.templates.set(`ns/${TEMPLATE}`, { labels: { app: 'other' }, spec: {} });
      const o = await materialise(gang([2], false, true), ctx(fake));
      expect(o).toMatchObject({
        outcome: REJECTED,
        reason: 'CreateFailed',
        message: `creating ResourceClaimTemplate ${TEMPLATE}: AlreadyExists: already exists (not this gang's ResourceClaimTemplate)`,
      });
      expect(fake.pods.size).toBe(0);
      expect(fake.templates.get(`ns/${TEMPLATE}`)?.labels).toEqual({ app: 'other' });
      expect(fake.calls.filter((c) => c.startsWith('create m-'))).toEqual([]);
    });

    it("answers REJECTED with the API server's reason when a template is refused", async () => {
      const fake = new FakePods();
      fake.failTemplate = {
        code: 404,
        body: { reason: 'NotFound', message: 'the server could not find the requested resource' },
      };
      const o = await materialise(gang([2], false, true), ctx(fake));
      expect(o).toMatchObject({
        outcome: REJECTED,
        reason: 'CreateFailed',
        message: `creating ResourceClaimTemplate ${TEMPLATE}: NotFound: the server could not find the requested resource`,
      });
      expect(fake.pods.size).toBe(0);
    });
  });
});
