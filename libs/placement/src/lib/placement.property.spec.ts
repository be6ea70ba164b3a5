/**
 * Property tests over random clusters and gangs. The checks re-derive every rule from the raw
 * snapshot with small, independent helpers (no library internals), so a bug in the index or the
 * search cannot hide behind itself.
 */
import fc from 'fast-check';
import {
  ClusterSnapshot,
  Gang,
  NodeSelectorRequirement,
  NodeSnapshot,
  PodSet,
  RequiredNodeAffinity,
  Taint,
  Toleration,
} from './model';
import { GangDecision, placeBatch, placeGang, PreparedGangs } from './place';
import { formatQuantity } from './quantity';
import { arbClusters, arbGangs, arbPolicy } from '../testing/arbitraries';

const RUNS = { numRuns: 200 };

// ---------- independent re-implementation of the rules ----------

const usable = (c: ClusterSnapshot, n: NodeSnapshot) =>
  c.ready !== false && c.cordoned !== true && n.ready !== false && n.unschedulable !== true;

function tolerated(t: Taint, tols: readonly Toleration[] | undefined): boolean {
  if (t.effect === 'PreferNoSchedule') return true;
  return (tols ?? []).some(
    (x) =>
      (!x.effect || x.effect === t.effect) &&
      (!x.key || x.key === t.key) &&
      ((x.operator ?? 'Equal') === 'Exists' || (x.value ?? '') === (t.value ?? '')),
  );
}

/** Kubernetes' required node affinity, written out again for the oracle. */
function affinityAllows(n: NodeSnapshot, a: RequiredNodeAffinity | undefined): boolean {
  if (!a) return true;
  const holds = (r: NodeSelectorRequirement, v: string | undefined): boolean => {
    const vs = r.values ?? [];
    if (r.operator === 'In') return v !== undefined && vs.includes(v);
    if (r.operator === 'NotIn') return v === undefined || !vs.includes(v);
    if (r.operator === 'Exists') return v !== undefined;
    if (r.operator === 'DoesNotExist') return v === undefined;
    if (v === undefined || !/^-?[0-9]+$/.test(v)) return false;
    return r.operator === 'Gt' ? Number(v) > Number(vs[0]) : Number(v) < Number(vs[0]);
  };
  return a.nodeSelectorTerms.some((t) => {
    const all = [
      ...(t.matchExpressions ?? []).map((r) => holds(r, n.labels?.[r.key])),
      ...(t.matchFields ?? []).map((r) => holds(r, n.name)),
    ];
    return all.length > 0 && all.every((x) => x);
  });
}

function eligible(c: ClusterSnapshot, n: NodeSnapshot, ps: PodSet): boolean {
  const sel = ps.nodeSelector ?? {};
  return (
    usable(c, n) &&
    Object.keys(sel).every((k) => n.labels?.[k] === sel[k]) &&
    affinityAllows(n, ps.nodeAffinity) &&
    (n.taints ?? []).every((t) => tolerated(t, ps.tolerations))
  );
}

/** Label values of levels 0..depth-1, or undefined when a label is missing. */
function pathOf(c: ClusterSnapshot, n: NodeSnapshot, depth: number): string | undefined {
  const vals: string[] = [];
  for (let i = 0; i < depth; i++) {
    const v = n.labels?.[c.topologyLevels[i]];
    if (v === undefined) return undefined;
    vals.push(v);
  }
  return JSON.stringify(vals);
}

const amount = (l: Readonly<Record<string, bigint>>, r: string) => l[r] ?? 0n;
const pos = (a: bigint) => (a < 0n ? 0n : a);

/** Members of `ps` that fit on a node with `free` (Infinity when nothing is requested). */
function nodeCap(free: Readonly<Record<string, bigint>>, ps: PodSet): number {
  let k = Infinity;
  for (const [r, q] of Object.entries(ps.requests)) {
    if (q === 0n) continue;
    k = Math.min(k, Number(pos(amount(free, r)) / q));
  }
  return k;
}

/** Applies a placed decision to a snapshot (the test's own bookkeeping). */
function applyDecision(clusters: ClusterSnapshot[], g: Gang, d: GangDecision): ClusterSnapshot[] {
  if (d.status !== 'placed') return clusters;
  return clusters.map((c) => {
    if (c.name !== d.placement.cluster) return c;
    const nodes = c.nodes.map((n) => {
      let free = { ...n.free };
      for (const psp of d.placement.podSets) {
        const ps = g.podSets.find((p) => p.name === psp.podSet) as PodSet;
        for (const name of psp.nodes) {
          if (name !== n.name) continue;
          for (const [r, q] of Object.entries(ps.requests))
            free = { ...free, [r]: amount(free, r) - q };
        }
      }
      return { ...n, free };
    });
    return { ...c, nodes };
  });
}

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Checks every placed decision of a batch against the rules; returns per-node usage. */
function checkSafety(
  clusters: readonly ClusterSnapshot[],
  gangs: readonly Gang[],
  decisions: readonly GangDecision[],
): void {
  const used = new Map<string, Record<string, bigint>>();
  decisions.forEach((d, i) => {
    const g = gangs[i];
    expect(d.gangId).toBe(g.id);
    if (d.status === 'unplaced') {
      // one true-looking explanation per cluster, in name order
      expect(d.explanations.map((e) => e.cluster)).toEqual(clusters.map((c) => c.name).sort());
      d.explanations.forEach((e) => expect(e.message.length).toBeGreaterThan(0));
      return;
    }
    expect(d.status).toBe('placed');
    if (d.status !== 'placed') return;
    const c = clusters.find((x) => x.name === d.placement.cluster) as ClusterSnapshot;
    expect(c).toBeDefined();
    expect(c.ready).not.toBe(false);
    expect(c.cordoned).not.toBe(true);
    // all members of all pod sets, nothing else
    expect(d.placement.podSets.map((p) => p.podSet)).toEqual(g.podSets.map((p) => p.name));
    g.podSets.forEach((ps, k) => {
      const nodes = d.placement.podSets[k].nodes;
      expect(nodes).toHaveLength(ps.count);
      const snaps = nodes.map((name) => c.nodes.find((n) => n.name === name) as NodeSnapshot);
      snaps.forEach((n) => {
        expect(n).toBeDefined();
        expect(eligible(c, n, ps)).toBe(true);
        const u = used.get(`${c.name}/${n.name}`) ?? {};
        for (const [r, q] of Object.entries(ps.requests)) u[r] = amount(u, r) + q;
        used.set(`${c.name}/${n.name}`, u);
      });
      if (ps.topology?.mode === 'required' && ps.count > 0) {
        const depth = c.topologyLevels.indexOf(ps.topology.level) + 1;
        expect(depth).toBeGreaterThan(0);
        const paths = new Set(snaps.map((n) => pathOf(c, n, depth)));
        expect(paths.size).toBe(1);
        expect(paths.has(undefined)).toBe(false);
      }
    });
    if (g.colocation) {
      const depth = c.topologyLevels.indexOf(g.colocation.level) + 1;
      const members = g.podSets
        .filter((p) => g.colocation?.podSets.includes(p.name))
        .flatMap((p) => d.placement.podSets.find((x) => x.podSet === p.name)?.nodes ?? []);
      if (members.length > 0) {
        expect(depth).toBeGreaterThan(0);
        const paths = new Set(
          members.map((name) =>
            pathOf(c, c.nodes.find((n) => n.name === name) as NodeSnapshot, depth),
          ),
        );
        expect(paths.size).toBe(1);
        expect(paths.has(undefined)).toBe(false);
      }
    }
  });
  // never over-commit: total requests per node within the node's free capacity
  for (const [key, u] of used) {
    const [cn, nn] = key.split('/');
    const n = clusters.find((c) => c.name === cn)?.nodes.find((x) => x.name === nn) as NodeSnapshot;
    for (const [r, q] of Object.entries(u)) {
      if (q > 0n) expect(q <= pos(amount(n.free, r))).toBe(true);
    }
  }
}

// ---------- properties ----------

const STATS = new Map<string, number>();
afterAll(() => {
  if (process.env.STATS)
    console.log(
      [...STATS.entries()]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
    );
});

describe('placement properties', () => {
  it('never over-commits a node (pod slots included), places all members or none, and respects selectors, node affinity, taints and topology', () => {
    fc.assert(
      fc.property(arbClusters, arbGangs(6), arbPolicy, (clusters, gangs, policy) => {
        const r = placeBatch(clusters, gangs, { policy });
        if (process.env.STATS) {
          r.decisions.forEach((d, i) => {
            const g = gangs[i];
            const k = `${d.status}${g.colocation ? '+group' : ''}${g.podSets.some((p) => p.topology?.mode === 'required') ? '+req' : ''}${g.podSets.some((p) => p.topology?.mode === 'preferred') ? '+pref' : ''}${g.podSets.length > 1 ? '+multi' : ''}`;
            STATS.set(k, (STATS.get(k) ?? 0) + 1);
            if (d.status === 'unplaced')
              d.explanations.forEach((e) => STATS.set(e.code, (STATS.get(e.code) ?? 0) + 1));
          });
        }
        expect(r.decisions).toHaveLength(gangs.length);
        checkSafety(clusters, gangs, r.decisions);
      }),
      RUNS,
    );
  });

  it('batch placement equals placing one gang at a time and applying each decision', () => {
    fc.assert(
      fc.property(arbClusters, arbGangs(5), arbPolicy, (clusters, gangs, policy) => {
        const batch = placeBatch(clusters, gangs, { policy }).decisions;
        let snapshot: ClusterSnapshot[] = clusters;
        gangs.forEach((g, i) => {
          const single = placeGang(snapshot, g, { policy });
          expect(single).toEqual(batch[i]);
          snapshot = applyDecision(snapshot, g, single);
        });
      }),
      RUNS,
    );
  });

  it('decides the same with prepared gangs kept across batches, also when the snapshot changes', () => {
    fc.assert(
      fc.property(
        arbClusters,
        arbClusters,
        arbGangs(5),
        arbPolicy,
        (first, second, gangs, policy) => {
          // The same gang objects offered to three batches (a scheduler's cycles), on snapshots
          // whose resource names differ and then come back, against batches that start afresh.
          const prepared = new PreparedGangs();
          for (const clusters of [first, second, first]) {
            const kept = placeBatch(clusters, gangs, { policy, prepared }).decisions;
            expect(kept).toEqual(placeBatch(clusters, gangs, { policy }).decisions);
          }
        },
      ),
      RUNS,
    );
  });

  it('is deterministic, also with clusters and nodes in another order', () => {
    fc.assert(
      fc.property(
        arbClusters,
        arbGangs(4),
        arbPolicy,
        fc.integer(),
        (clusters, gangs, policy, seed) => {
          const a = placeBatch(clusters, gangs, { policy });
          expect(placeBatch(clusters, gangs, { policy })).toEqual(a);
          const shuffled = shuffle(clusters, seed).map((c, i) => ({
            ...c,
            nodes: shuffle(c.nodes, seed + i + 1),
          }));
          expect(placeBatch(shuffled, gangs, { policy })).toEqual(a);
        },
      ),
      RUNS,
    );
  });

  it('places a single-pod-set gang exactly when some cluster can hold it, on the cluster the policy ranks best', () => {
    fc.assert(
      fc.property(arbClusters, arbGangs(4, false), arbPolicy, (clusters, gangs0, policy) => {
        const gangs = gangs0.map((g) => ({ ...g, podSets: [g.podSets[0]] }));
        const batch = placeBatch(clusters, gangs, { policy }).decisions;
        let snapshot: ClusterSnapshot[] = clusters;
        gangs.forEach((g, i) => {
          const ps = g.podSets[0];
          const feasible = snapshot.filter((c) => {
            if (c.ready === false || c.cordoned === true) return false;
            const elig = c.nodes.filter((n) => eligible(c, n, ps));
            const cap = (ns: NodeSnapshot[]) => ns.reduce((s, n) => s + nodeCap(n.free, ps), 0);
            if (ps.topology?.mode !== 'required') return cap(elig) >= ps.count;
            const depth = c.topologyLevels.indexOf(ps.topology.level) + 1;
            if (depth === 0) return false;
            const domains = new Map<string, NodeSnapshot[]>();
            for (const n of elig) {
              const p = pathOf(c, n, depth);
              if (p !== undefined) domains.set(p, [...(domains.get(p) ?? []), n]);
            }
            return [...domains.values()].some((ns) => cap(ns) >= ps.count);
          });
          const d = batch[i];
          expect(d.status).toBe(feasible.length > 0 ? 'placed' : 'unplaced');
          if (d.status === 'placed') {
            // Best by the documented score: pack = min free/need, spread = max (free-need)/allocatable.
            const key = (c: ClusterSnapshot) => {
              let best: [bigint, bigint] | undefined;
              for (const [r, q] of Object.entries(ps.requests)) {
                const need = q * BigInt(ps.count);
                if (need === 0n) continue;
                const live = c.nodes.filter((n) => usable(c, n));
                const free = live.reduce((s, n) => s + pos(amount(n.free, r)), 0n);
                const alloc = live.reduce((s, n) => s + pos(amount(n.allocatable, r)), 0n);
                const k: [bigint, bigint] =
                  policy === 'pack' ? [free, need] : [free - need, alloc > 0n ? alloc : 1n];
                if (!best || k[0] * best[1] < best[0] * k[1]) best = k;
              }
              return best ?? [0n, 1n];
            };
            const better = (a: ClusterSnapshot, b: ClusterSnapshot) => {
              const [x, y] = [key(a), key(b)];
              const cmp = x[0] * y[1] - y[0] * x[1];
              if (cmp !== 0n) return policy === 'pack' ? cmp < 0n : cmp > 0n;
              return a.name < b.name;
            };
            const expected = feasible.reduce((best, c) => (better(c, best) ? c : best));
            expect(d.placement.cluster).toBe(expected.name);
          }
          snapshot = applyDecision(snapshot, g, d);
        });
      }),
      RUNS,
    );
  });

  it('explanations state true figures', () => {
    fc.assert(
      fc.property(arbClusters, arbGangs(4), (clusters, gangs) => {
        const decisions = placeBatch(clusters, gangs).decisions;
        let snapshot: ClusterSnapshot[] = clusters;
        decisions.forEach((d, i) => {
          const g = gangs[i];
          if (d.status === 'unplaced') {
            for (const e of d.explanations) {
              const c = snapshot.find((x) => x.name === e.cluster) as ClusterSnapshot;
              if (e.code === 'InsufficientCapacity' && e.podSet === undefined && e.resource) {
                const r = e.resource;
                const free = c.nodes
                  .filter((n) => usable(c, n))
                  .reduce((s, n) => s + pos(amount(n.free, r)), 0n);
                const need = g.podSets.reduce(
                  (s, p) => s + amount(p.requests, r) * BigInt(p.count),
                  0n,
                );
                expect(e.available).toBe(formatQuantity(free, r));
                expect(e.needed).toBe(formatQuantity(need, r));
                expect(free < need).toBe(true);
              }
              if (e.code === 'TopologyDomainTooSmall' && e.resource && e.podSet && e.level) {
                const ps = g.podSets.find((p) => p.name === e.podSet) as PodSet;
                const depth = c.topologyLevels.indexOf(e.level) + 1;
                const sums = new Map<string, bigint>();
                for (const n of c.nodes) {
                  const p = pathOf(c, n, depth);
                  if (p === undefined || !eligible(c, n, ps)) continue;
                  sums.set(p, (sums.get(p) ?? 0n) + pos(amount(n.free, e.resource)));
                }
                const best = [...sums.values()].reduce((m, v) => (v > m ? v : m), 0n);
                expect(e.available).toBe(formatQuantity(best, e.resource));
                expect(best < amount(ps.requests, e.resource) * BigInt(ps.count)).toBe(true);
              }
              if (e.code === 'ClusterNotReady') expect(c.ready).toBe(false);
              if (e.code === 'ClusterCordoned') expect(c.cordoned).toBe(true);
            }
          }
          snapshot = applyDecision(snapshot, g, d);
        });
      }),
      RUNS,
    );
  });
});
