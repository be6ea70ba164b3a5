import fc from 'fast-check';
import { fitGang, type ClusterSnapshot, type Gang } from '@muster/placement';
import { choosePreemption, freed, type Holder, type PreemptionContext } from './preemption';
import { QuotaLedger, type QueueQuota } from './quota';

const GPU = 'nvidia.com/gpu';
const HOST = 'kubernetes.io/hostname';

/** A cluster of `nodes` nodes of 8 GPUs, with `free` GPUs free on each. */
function cluster(name: string, free: number[]): ClusterSnapshot {
  return {
    name,
    topologyLevels: [HOST],
    nodes: free.map((f, i) => ({
      name: `${name}-n${i}`,
      labels: { [HOST]: `${name}-n${i}` },
      allocatable: { [GPU]: 8000n },
      free: { [GPU]: BigInt(f) * 1000n },
    })),
  };
}

function gang(id: string, members: number, gpus: number): Gang {
  return {
    id,
    podSets: [{ name: 'w', count: members, requests: { [GPU]: BigInt(gpus) * 1000n } }],
  };
}

/** A running gang holding `gpus` on each of `nodes`. */
function holder(
  jobId: string,
  queue: string,
  priority: number,
  cluster: string,
  nodes: string[],
  gpus: number,
  placedAt = 0,
): Holder {
  return {
    jobId,
    fencingToken: 1,
    queue,
    priority,
    cluster,
    placedAt,
    nodes: new Map(nodes.map((n) => [n, new Map([[GPU, BigInt(gpus) * 1000n]])])),
    request: { [GPU]: BigInt(gpus * nodes.length) * 1000n },
  };
}

const fit: PreemptionContext['fit'] = (c, g) => {
  const d = fitGang(c, g, { explain: false });
  return d.status === 'placed' ? d.placement : undefined;
};

const withinQueue = () => ({
  withinQueue: 'LowerPriority' as const,
  reclaimWithinCohort: 'Never' as const,
});

describe('choosePreemption', () => {
  it('takes the fewest lower-priority gangs of one cluster, lowest priority first', () => {
    // c1: two full nodes held by three gangs; the 8-GPU gang needs one whole node.
    const holders = [
      holder('low-a', 'q', 0, 'c1', ['c1-n0'], 4),
      holder('low-b', 'q', 1, 'c1', ['c1-n0'], 4),
      holder('big', 'q', 0, 'c1', ['c1-n1'], 8),
    ];
    const choice = choosePreemption(
      { gang: gang('hi', 1, 8), queue: 'q', priority: 10, request: { [GPU]: 8000n } },
      {
        clusters: [cluster('c1', [0, 0])],
        holders,
        rules: withinQueue,
        cohortOf: () => undefined,
        fit,
      },
    );
    // One victim (the 8-GPU gang) beats two of 4, though those have lower priority.
    expect(choice?.victims.map((v) => v.jobId)).toEqual(['big']);
    expect(choice?.cluster).toBe('c1');
  });

  it('never takes gangs of equal or higher priority, nor of other queues within the queue rule', () => {
    const holders = [
      holder('same', 'q', 5, 'c1', ['c1-n0'], 8),
      holder('other', 'r', 0, 'c1', ['c1-n1'], 8),
    ];
    expect(
      choosePreemption(
        { gang: gang('hi', 1, 8), queue: 'q', priority: 5, request: { [GPU]: 8000n } },
        {
          clusters: [cluster('c1', [0, 0])],
          holders,
          rules: withinQueue,
          cohortOf: () => undefined,
          fit,
        },
      ),
    ).toBeUndefined();
  });

  it('frees one cluster rather than parts of two', () => {
    // 4 free on c1 plus 4 held there, or 4 held on each of c2's two nodes: c1 needs one victim.
    const holders = [
      holder('c1-v', 'q', 0, 'c1', ['c1-n0'], 4),
      holder('c2-v1', 'q', 0, 'c2', ['c2-n0'], 4),
      holder('c2-v2', 'q', 0, 'c2', ['c2-n1'], 4),
    ];
    const choice = choosePreemption(
      { gang: gang('hi', 1, 8), queue: 'q', priority: 1, request: { [GPU]: 8000n } },
      {
        clusters: [cluster('c1', [4]), cluster('c2', [4, 4])],
        holders,
        rules: withinQueue,
        cohortOf: () => undefined,
        fit,
      },
    );
    expect(choice).toMatchObject({ cluster: 'c1' });
    expect(choice!.victims.map((v) => v.jobId)).toEqual(['c1-v']);
  });

  it('reclaims lent quota from a borrowing queue of the cohort, only when its own nominal admits the gang', () => {
    const quotas: QueueQuota[] = [
      { name: 'owner', cohort: 'co', nominal: { [GPU]: 8000n } },
      { name: 'borrower', cohort: 'co', nominal: { [GPU]: 0n } },
    ];
    const holders = [holder('borrowed', 'borrower', 100, 'c1', ['c1-n0'], 8)];
    const ledger = new QuotaLedger(quotas, new Map([['borrower', { [GPU]: 8000n }]]));
    const ctx = (reclaim: 'Any' | 'LowerPriority'): PreemptionContext => ({
      clusters: [cluster('c1', [0])],
      holders,
      rules: () => ({ withinQueue: 'Never', reclaimWithinCohort: reclaim }),
      cohortOf: (q) => quotas.find((x) => x.name === q)?.cohort,
      ledger,
      fit,
    });
    const p = { gang: gang('mine', 1, 8), queue: 'owner', priority: 0, request: { [GPU]: 8000n } };
    const choice = choosePreemption(p, ctx('Any'));
    expect(choice?.victims.map((v) => v.jobId)).toEqual(['borrowed']);
    expect([...choice!.kinds]).toEqual(['reclaim']);
    // The victim has higher priority: LowerPriority reclaims nothing.
    expect(choosePreemption(p, ctx('LowerPriority'))).toBeUndefined();
    // Beyond its nominal quota the owner reclaims nothing either.
    expect(
      choosePreemption({ ...p, gang: gang('more', 2, 8), request: { [GPU]: 16000n } }, ctx('Any')),
    ).toBeUndefined();
    // The ledger is left as it was.
    expect(ledger.used('borrower')).toEqual({ [GPU]: 8000n });
  });

  it('frees a cluster only where the queue`s quota in its cluster set then admits the gang', () => {
    // q may hold 12 GPUs in east; a higher-priority gang holds 8 there on c-east2. Freeing the
    // 4 of low-east on c-east makes room, but east would then hold 16: c-west's victim it is.
    const east = (h: Holder): Holder => ({
      ...h,
      request: { ...h.request, [`east:${GPU}`]: h.request[GPU]! },
    });
    const holders = [
      east(holder('hi-east2', 'q', 10, 'c-east2', ['c-east2-n0'], 8)),
      east(holder('low-east', 'q', 0, 'c-east', ['c-east-n0'], 4)),
      holder('low-west', 'q', 0, 'c-west', ['c-west-n0'], 8),
    ];
    const ledger = new QuotaLedger(
      [{ name: 'q', nominal: { [GPU]: 100_000n, [`east:${GPU}`]: 12_000n } }],
      new Map([['q', { [GPU]: 20_000n, [`east:${GPU}`]: 12_000n }]]),
    );
    const setOf: Record<string, string> = { 'c-east': 'east', 'c-east2': 'east', 'c-west': 'west' };
    const choice = choosePreemption(
      { gang: gang('mine', 1, 8), queue: 'q', priority: 5, request: { [GPU]: 8000n } },
      {
        clusters: [cluster('c-east', [4]), cluster('c-east2', [0]), cluster('c-west', [0])],
        holders,
        rules: withinQueue,
        cohortOf: () => undefined,
        clusterSetOf: (c) => setOf[c],
        ledger,
        fit,
      },
    );
    expect(choice).toMatchObject({ cluster: 'c-west', request: { [GPU]: 8000n } });
    expect(choice!.victims.map((v) => v.jobId)).toEqual(['low-west']);
    // Where east has room again, the gang takes its share of it too.
    ledger.release('q', holders[0]!.request);
    const inEast = choosePreemption(
      { gang: gang('mine', 1, 8), queue: 'q', priority: 5, request: { [GPU]: 8000n } },
      {
        clusters: [cluster('c-east', [4])],
        holders: holders.slice(1, 2),
        rules: withinQueue,
        cohortOf: () => undefined,
        clusterSetOf: (c) => setOf[c],
        ledger,
        fit,
      },
    );
    expect(inEast?.request).toEqual({ [GPU]: 8000n, [`east:${GPU}`]: 8000n });
  });

  it('does not reclaim from a queue within its own nominal quota', () => {
    const quotas: QueueQuota[] = [
      { name: 'owner', cohort: 'co', nominal: { [GPU]: 8000n } },
      { name: 'other', cohort: 'co', nominal: { [GPU]: 8000n } },
    ];
    const ledger = new QuotaLedger(quotas, new Map([['other', { [GPU]: 8000n }]]));
    expect(
      choosePreemption(
        { gang: gang('mine', 1, 8), queue: 'owner', priority: 0, request: { [GPU]: 8000n } },
        {
          clusters: [cluster('c1', [0])],
          holders: [holder('theirs', 'other', 0, 'c1', ['c1-n0'], 8)],
          rules: () => ({ withinQueue: 'Never', reclaimWithinCohort: 'Any' }),
          cohortOf: (q) => quotas.find((x) => x.name === q)?.cohort,
          ledger,
          fit,
        },
      ),
    ).toBeUndefined();
  });
});

describe('choosePreemption (properties)', () => {
  // Seeded fault, run once: with the sparing pass switched off (victims kept as added), this
  // failed at once: a full node held by gangs of 2, 1 and 2 GPUs, a gang of 4 wanting in, and all
  // three kept where the two of 2 GPUs sufficed.
  it('chooses a minimal set on one cluster, of lower priority only, that lets the gang in', () => {
    const arb = fc.record({
      free: fc.array(fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: 3,
      }),
      holders: fc.array(
        fc.record({
          cluster: fc.nat(2),
          node: fc.nat(2),
          gpus: fc.integer({ min: 1, max: 8 }),
          priority: fc.integer({ min: 0, max: 5 }),
        }),
        { maxLength: 8 },
      ),
      members: fc.integer({ min: 1, max: 3 }),
      gpus: fc.integer({ min: 1, max: 8 }),
      priority: fc.integer({ min: 0, max: 6 }),
    });
    fc.assert(
      fc.property(arb, (t) => {
        const clusters = t.free.map((nodes, i) => cluster(`c${i}`, nodes));
        const holders = t.holders
          .filter((h) => h.cluster < clusters.length && h.node < clusters[h.cluster]!.nodes.length)
          .map((h, i) =>
            holder(
              `h${i}`,
              'q',
              h.priority,
              `c${h.cluster}`,
              [`c${h.cluster}-n${h.node}`],
              h.gpus,
              i,
            ),
          );
        const g = gang('p', t.members, t.gpus);
        // The cycle preempts only for a gang that fits nowhere as things are.
        fc.pre(clusters.every((c) => fit(c, g) === undefined));
        const choice = choosePreemption(
          { gang: g, queue: 'q', priority: t.priority, request: {} },
          { clusters, holders, rules: withinQueue, cohortOf: () => undefined, fit },
        );
        if (!choice) return;
        const c = clusters.find((x) => x.name === choice.cluster)!;
        expect(choice.victims.length).toBeGreaterThan(0);
        for (const v of choice.victims) {
          expect(v.cluster).toBe(choice.cluster);
          expect(v.priority).toBeLessThan(t.priority);
        }
        expect(fit(freed(c, choice.victims), g)).toBeDefined();
        // Minimal: sparing any one victim leaves the gang out.
        for (const v of choice.victims)
          expect(
            fit(
              freed(
                c,
                choice.victims.filter((x) => x !== v),
              ),
              g,
            ),
          ).toBeUndefined();
      }),
      { seed: 20261206, numRuns: 300 },
    );
  });
});
