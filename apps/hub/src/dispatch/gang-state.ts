// The gang state rule: from the member counts of a gang's current placement to its next state.
// Pure, so every case is a row in a table test; the repository only loads counts and writes the
// verdict.
import type {
  EvictionReason,
  JobStateName,
  MemberCounts,
  OnClusterLostPolicy,
} from '../jobs/job.domain';

/** Member counts of one placement, as the agent's reports add up. */
export interface GangMembers extends Required<MemberCounts> {
  /** Members reported Lost (deleted before they ended); also counted in `failed`. */
  lost: number;
  /** Lost members the agent deleted itself after losing the hub (reason `SelfFenced`). */
  selfFenced: number;
  /** "w-0: Failed (Error, exit code 1); …" for failed and lost members. */
  failures: string;
}

export type GangVerdict =
  /**
   * No state change; `reason`/`message` describe a change of counts. With `teardown`, the agent
   * must delete every member of this placement (a restart waits for them to be gone).
   */
  | { kind: 'stay'; reason: string; message: string; teardown?: boolean }
  | { kind: 'move'; state: JobStateName; reason: string; message: string }
  /**
   * Back to the queue with a new token: the old copy is confirmed gone. `restart` counts one of
   * the job's restarts; `evicted` marks the end of an eviction with notice (no backoff, no
   * attempt counted: the gang keeps its place in its queue).
   */
  | { kind: 'requeue'; reason: string; message: string; restart?: boolean; evicted?: boolean };

/** The job's restart budget (JobSpec.max_restarts) and what it used. */
export interface RestartBudget {
  maxRestarts: number;
  restarts: number;
}

/**
 * - A gang given an eviction notice (`evicting`) is requeued once every member is gone, whatever
 *   they ended as (deleted at the deadline, or exited to checkpoint): a member that fails after
 *   the notice does not fail the job. One whose members all succeeded is done, like any other.
 * - `Failed` as soon as a member failed or was lost, except that:
 *   - a `requeue` gang its agent fenced itself (it was cut off from the hub) is requeued;
 *   - a gang with restarts left is torn down whole and started again (`Restarting`, then
 *     requeued with a new token);
 *   and either only once every member is reported gone: the agent's reports are the confirmation
 *   that no member of the old copy still runs.
 * The first failure decides the message; the whole gang always goes, never part of it.
 * - `Succeeded` when every member succeeded; `Running` when every member runs or has succeeded.
 * - Otherwise the state stays; `AllBound` marks the worker's scheduler having bound every member.
 */
export function gangVerdict(
  state: JobStateName,
  previous: MemberCounts,
  m: GangMembers,
  onClusterLost: OnClusterLostPolicy,
  cluster: string,
  budget: RestartBudget = { maxRestarts: 0, restarts: 0 },
  evicting?: EvictionReason,
): GangVerdict {
  if (evicting && m.succeeded < m.total) {
    const gone = m.succeeded + m.failed;
    if (gone >= m.total)
      return {
        kind: 'requeue',
        reason: evicting,
        message: `all ${m.total} members gone after the eviction notice; back in the queue, keeping its place`,
        evicted: true,
      };
    return {
      kind: 'stay',
      reason: 'Evicting',
      message: `${gone} of ${m.total} members gone after the eviction notice; waiting for the rest`,
    };
  }
  const fencedOnly = m.selfFenced > 0 && m.selfFenced === m.failed;
  if (fencedOnly && onClusterLost === 'requeue') {
    if (m.selfFenced + m.succeeded >= m.total) {
      return {
        kind: 'requeue',
        reason: 'SelfFenced',
        message: `the agent of ${cluster} deleted the gang while cut off from the hub; all ${m.total} members are gone`,
      };
    }
    return {
      kind: 'stay',
      reason: 'Fencing',
      message: `${m.selfFenced} of ${m.total} members deleted by the agent of ${cluster} while cut off from the hub; waiting for the rest to be gone`,
    };
  }
  if (m.failed > 0 && budget.restarts < budget.maxRestarts) {
    const which = `restart ${budget.restarts + 1} of ${budget.maxRestarts}`;
    if (m.succeeded + m.failed >= m.total) {
      return {
        kind: 'requeue',
        reason: 'Restart',
        message: `member failed: ${m.failures || 'unknown'}; every member is gone, starting the gang again (${which})`,
        restart: true,
      };
    }
    return {
      kind: 'stay',
      reason: 'Restarting',
      message: `member failed: ${m.failures || 'unknown'}; deleting the whole gang before starting it again (${which})`,
      teardown: true,
    };
  }
  if (m.failed > 0) {
    return {
      kind: 'move',
      state: 'Failed',
      reason: 'MemberFailed',
      message: `member failed: ${m.failures || 'unknown'}`,
    };
  }
  if (m.succeeded === m.total) {
    return {
      kind: 'move',
      state: 'Succeeded',
      reason: 'Succeeded',
      message: `all ${m.total} members succeeded`,
    };
  }
  if (m.running + m.succeeded === m.total && state !== 'Running') {
    return {
      kind: 'move',
      state: 'Running',
      reason: 'Running',
      message: `all ${m.total} members running`,
    };
  }
  if (m.bound === m.total && (previous.bound ?? 0) < m.total) {
    // Dispatched means created and ungated; this is the worker's scheduler placing them all.
    return {
      kind: 'stay',
      reason: 'AllBound',
      message: `all ${m.total} members bound to nodes in ${cluster}`,
    };
  }
  return {
    kind: 'stay',
    reason: 'MembersChanged',
    message: `${m.bound}/${m.total} members bound, ${m.running} running`,
  };
}

/**
 * A Dispatched or Running gang that its agent's snapshot does not hold: no pod of it is left in
 * the cluster (deleted, or its nodes gone, while the agent was not there to report each member).
 * The gang is gone, which is the confirmation a move needs; it goes where its policy says (one
 * given an eviction notice is requeued, keeping its place):
 * - a `requeue` gang is placed again (as its agent's self-fencing would have done);
 * - a gang with restarts left starts again (counted as one);
 * - any other fails, saying so.
 */
export function vanishedVerdict(
  onClusterLost: OnClusterLostPolicy,
  cluster: string,
  budget: RestartBudget,
  evicting?: EvictionReason,
): Exclude<GangVerdict, { kind: 'stay' }> {
  const what = `no pod of the gang is left in ${cluster} (its agent's snapshot holds none)`;
  if (evicting)
    return {
      kind: 'requeue',
      reason: evicting,
      message: `${what} after the eviction notice; back in the queue, keeping its place`,
      evicted: true,
    };
  if (onClusterLost === 'requeue')
    return { kind: 'requeue', reason: 'Vanished', message: `${what}; placing it again` };
  if (budget.restarts < budget.maxRestarts) {
    return {
      kind: 'requeue',
      reason: 'Restart',
      message: `${what}; starting the gang again (restart ${budget.restarts + 1} of ${budget.maxRestarts})`,
      restart: true,
    };
  }
  return { kind: 'move', state: 'Failed', reason: 'Vanished', message: what };
}
