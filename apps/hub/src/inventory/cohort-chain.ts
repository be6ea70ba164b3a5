// The one rule on how cohorts nest: a cohort's parent chain never comes back to it, and no tree
// is deeper than MAX_COHORT_DEPTH. Checked against every stored cohort's parent before a cohort
// is written (see InventoryRepository.insertCohort / updateCohort).

/** Most levels a cohort tree may have; a root is level 1. */
export const MAX_COHORT_DEPTH = 16;

/** Why a cohort may not have the parent asked for, with the chain of names that shows it. */
export type CohortChainProblem =
  | {
      /** The parent chain comes back to the cohort: `chain` starts and ends with it. */
      problem: 'loop';
      chain: string[];
    }
  | {
      /** The deepest path through the cohort, from its root down: more than MAX_COHORT_DEPTH. */
      problem: 'too-deep';
      chain: string[];
    };

/**
 * What giving cohort `name` the parent `parent` (null: a root) would break, judged on `parents`:
 * each stored cohort's parent, by name (a name without an entry is an implicit root). The
 * stored tree is taken to be sound, so a loop can only pass through `name`; still, the walk
 * stops at any name seen twice. null when the tree stays sound.
 */
export function cohortChainProblem(
  parents: ReadonlyMap<string, string | null>,
  name: string,
  parent: string | null,
  maxDepth: number = MAX_COHORT_DEPTH,
): CohortChainProblem | null {
  // Up: name, its parent, theirs, ... to the root.
  const up = [name];
  const seen = new Set(up);
  for (let at = parent; at !== null; at = parents.get(at) ?? null) {
    if (seen.has(at)) return { problem: 'loop', chain: [...up, at] };
    up.push(at);
    seen.add(at);
  }
  // Down: the longest chain of cohorts under `name` (its own old parent does not count).
  const children = new Map<string, string[]>();
  for (const [child, p] of parents) {
    if (p === null || child === name) continue;
    children.set(p, [...(children.get(p) ?? []), child]);
  }
  const below = new Map<string, string[]>();
  const deepest = (at: string, path: ReadonlySet<string>): string[] => {
    const known = below.get(at);
    if (known) return known;
    let longest: string[] = [];
    for (const child of (children.get(at) ?? []).sort()) {
      if (path.has(child)) continue; // a loop in the stored rows; not this write's to judge
      const under = deepest(child, new Set([...path, child]));
      if (under.length > longest.length) longest = under;
    }
    const result = [at, ...longest];
    below.set(at, result);
    return result;
  };
  const down = deepest(name, new Set([name]));
  if (up.length + down.length - 1 > maxDepth)
    return { problem: 'too-deep', chain: [...up.reverse(), ...down.slice(1)] };
  return null;
}
