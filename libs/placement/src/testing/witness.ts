/**
 * Test-only reference for one gang on one small cluster: an exhaustive search for any placement
 * that keeps the rules, and an independent checker of a placement. Neither uses the index or the
 * greedy search, so they can judge them. Exponential: meant for a handful of nodes and members.
 */
import { ClusterSnapshot, Gang, NodeSnapshot, PodSet } from '../lib/model';
import {
  isHardTaint,
  matchesNodeAffinity,
  matchesNodeSelector,
  toleratesAll,
} from '../lib/scheduling';

/** Node names per member, one list per pod set in the gang's order. */
export type MemberNodes = ReadonlyArray<readonly string[]>;

export type WitnessResult =
  | { readonly status: 'feasible'; readonly nodes: MemberNodes }
  | { readonly status: 'infeasible' }
  /** The search ran out of steps before deciding. */
  | { readonly status: 'unknown' };

const pos = (a: bigint) => (a < 0n ? 0n : a);

function usable(c: ClusterSnapshot, n: NodeSnapshot): boolean {
  return c.ready !== false && c.cordoned !== true && n.ready !== false && n.unschedulable !== true;
}

function eligible(c: ClusterSnapshot, n: NodeSnapshot, ps: PodSet): boolean {
  return (
    usable(c, n) &&
    matchesNodeSelector(n.labels, ps.nodeSelector) &&
    matchesNodeAffinity(n.name, n.labels, ps.nodeAffinity) &&
    toleratesAll((n.taints ?? []).filter(isHardTaint), ps.tolerations)
  );
}

/** Domain of `n` at a topology level (label values of every level down to it), if it has one. */
function domainOf(c: ClusterSnapshot, n: NodeSnapshot, level: string): string | undefined {
  const depth = c.topologyLevels.indexOf(level) + 1;
  if (depth === 0) return undefined;
  const path: string[] = [];
  for (const l of c.topologyLevels.slice(0, depth)) {
    const v = n.labels?.[l];
    if (v === undefined) return undefined;
    path.push(v);
  }
  return JSON.stringify(path);
}

function requests(ps: PodSet): Array<[string, bigint]> {
  return Object.entries(ps.requests).filter(([, q]) => q > 0n);
}

/** Every rule a placement breaks (empty when it is valid). */
export function violations(c: ClusterSnapshot, g: Gang, nodes: MemberNodes): string[] {
  const out: string[] = [];
  const byName = new Map(c.nodes.map((n) => [n.name, n]));
  const used = new Map<string, Map<string, bigint>>();
  if (nodes.length !== g.podSets.length) out.push(`${nodes.length} pod sets placed`);
  g.podSets.forEach((ps, i) => {
    const names = nodes[i] ?? [];
    if (names.length !== ps.count) out.push(`${ps.name}: ${names.length} of ${ps.count} members`);
    for (const name of names) {
      const n = byName.get(name);
      if (!n) {
        out.push(`${ps.name}: unknown node ${name}`);
        continue;
      }
      if (!eligible(c, n, ps)) out.push(`${ps.name}: node ${name} not eligible`);
      const u = used.get(name) ?? new Map<string, bigint>();
      for (const [r, q] of requests(ps)) u.set(r, (u.get(r) ?? 0n) + q);
      used.set(name, u);
    }
    const topo = ps.topology;
    if (topo?.mode === 'required' && names.length > 0) {
      const doms = new Set(
        names.map((name) => byName.get(name)).map((n) => n && domainOf(c, n, topo.level)),
      );
      if (doms.size !== 1 || doms.has(undefined)) out.push(`${ps.name}: not in one ${topo.level}`);
    }
  });
  const group = g.colocation;
  if (group) {
    const names = g.podSets.flatMap((ps, i) =>
      group.podSets.includes(ps.name) ? (nodes[i] ?? []) : [],
    );
    const doms = new Set(
      names.map((name) => byName.get(name)).map((n) => n && domainOf(c, n, group.level)),
    );
    if (names.length > 0 && (doms.size !== 1 || doms.has(undefined)))
      out.push(`colocation: not in one ${group.level}`);
  }
  for (const [name, u] of used) {
    const n = byName.get(name) as NodeSnapshot;
    for (const [r, q] of u)
      if (q > pos(n.free[r] ?? 0n)) out.push(`node ${name} over-committed on ${r}`);
  }
  return out;
}

/**
 * Searches every placement of `g` in `c`: one colocation domain, then per pod set (gang order)
 * one domain of its required level and a member count per eligible node, pruned by the room left
 * on the nodes still to visit. Preferred topology is a preference only and does not restrict.
 * Gives up (`unknown`) after `budget` steps.
 */
export function witness(c: ClusterSnapshot, g: Gang, budget = 1_000_000): WitnessResult {
  if (c.ready === false || c.cordoned === true) return { status: 'infeasible' };
  const nodes = c.nodes.filter((n) => usable(c, n));
  const free = nodes.map((n) => new Map(Object.entries(n.free).map(([r, q]) => [r, pos(q)])));
  const sets = g.podSets.map((ps) => ({
    ps,
    req: requests(ps),
    elig: nodes.map((n, i) => (eligible(c, n, ps) ? i : -1)).filter((i) => i >= 0),
  }));
  const group = g.colocation;
  const grouped = (ps: PodSet) =>
    group !== undefined && ps.count > 0 && group.podSets.includes(ps.name);
  const assigned: number[][] = g.podSets.map(() => []);
  let steps = 0;

  const cap = (i: number, req: Array<[string, bigint]>, limit: number): number => {
    let k = limit;
    for (const [r, q] of req) {
      const f = free[i].get(r) ?? 0n;
      const m = Number(f / q);
      if (m < k) k = m;
    }
    return k;
  };
  const take = (i: number, req: Array<[string, bigint]>, k: number) => {
    for (const [r, q] of req) free[i].set(r, (free[i].get(r) ?? 0n) - q * BigInt(k));
  };

  // Places pod sets s.. within the colocation domain `gdom` (undefined: none chosen or needed).
  const placeFrom = (s: number, gdom: string | undefined): boolean => {
    if (s === sets.length) return true;
    const { ps, req, elig } = sets[s];
    if (ps.count === 0) return placeFrom(s + 1, gdom);
    let pool = elig;
    if (grouped(ps)) pool = pool.filter((i) => domainOf(c, nodes[i], group!.level) === gdom);
    const topo = ps.topology;
    const domains =
      topo?.mode === 'required'
        ? [...new Set(pool.map((i) => domainOf(c, nodes[i], topo.level)))].filter(
            (d) => d !== undefined,
          )
        : [undefined];
    for (const d of domains) {
      const here =
        d === undefined ? pool : pool.filter((i) => domainOf(c, nodes[i], topo!.level) === d);
      const caps = here.map((i) => cap(i, req, ps.count));
      const after = new Array<number>(here.length + 1).fill(0);
      for (let j = here.length - 1; j >= 0; j--) after[j] = after[j + 1] + caps[j];
      if (after[0] < ps.count) continue;
      // Member counts node by node, most first; the rest must fit on the nodes after this one.
      const fill = (j: number, left: number): boolean => {
        if (++steps > budget) throw new OutOfSteps();
        if (left === 0) return placeFrom(s + 1, gdom);
        if (j === here.length) return false;
        const hi = Math.min(caps[j], left);
        for (let k = hi; k >= Math.max(0, left - after[j + 1]); k--) {
          take(here[j], req, k);
          for (let m = 0; m < k; m++) assigned[s].push(here[j]);
          const ok = fill(j + 1, left - k);
          if (ok) return true;
          assigned[s].length -= k;
          take(here[j], req, -k);
        }
        return false;
      };
      if (fill(0, ps.count)) return true;
    }
    return false;
  };

  try {
    let found = false;
    if (group && g.podSets.some(grouped)) {
      const doms = [...new Set(nodes.map((n) => domainOf(c, n, group.level)))].filter(
        (d) => d !== undefined,
      );
      found = doms.some((d) => placeFrom(0, d));
    } else {
      found = placeFrom(0, undefined);
    }
    if (!found) return { status: 'infeasible' };
  } catch (e) {
    if (e instanceof OutOfSteps) return { status: 'unknown' };
    throw e;
  }
  return { status: 'feasible', nodes: assigned.map((ids) => ids.map((i) => nodes[i].name)) };
}

class OutOfSteps extends Error {}
