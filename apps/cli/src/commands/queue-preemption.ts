// What a queue's waiting gangs may preempt: --preempt-within-queue and --reclaim-within-cohort.
import { PreemptionPolicy, type QueuePreemption } from '@muster/api';
import { UsageError } from '../errors';

export interface PreemptionFlags {
  preemptWithinQueue?: string;
  reclaimWithinCohort?: string;
}

const POLICIES: Record<string, PreemptionPolicy> = {
  never: PreemptionPolicy.PREEMPTION_POLICY_NEVER,
  'lower-priority': PreemptionPolicy.PREEMPTION_POLICY_LOWER_PRIORITY,
  any: PreemptionPolicy.PREEMPTION_POLICY_ANY,
};

function policy(flag: string, value: string, allowed: readonly string[]): PreemptionPolicy {
  const v = value.trim().toLowerCase();
  if (!allowed.includes(v))
    throw new UsageError(`${flag}: must be one of ${allowed.join(', ')} (got "${value}")`);
  return POLICIES[v]!;
}

/**
 * The queue's preemption rules after the flags: `current` with each flag given replaced;
 * undefined when neither flag is given (nothing changes) and there is no current one.
 */
export function preemptionOf(
  flags: PreemptionFlags,
  current?: QueuePreemption,
): QueuePreemption | undefined {
  if (flags.preemptWithinQueue === undefined && flags.reclaimWithinCohort === undefined)
    return current;
  return {
    withinQueue:
      flags.preemptWithinQueue !== undefined
        ? policy('--preempt-within-queue', flags.preemptWithinQueue, ['never', 'lower-priority'])
        : (current?.withinQueue ?? PreemptionPolicy.PREEMPTION_POLICY_NEVER),
    reclaimWithinCohort:
      flags.reclaimWithinCohort !== undefined
        ? policy('--reclaim-within-cohort', flags.reclaimWithinCohort, [
            'never',
            'lower-priority',
            'any',
          ])
        : (current?.reclaimWithinCohort ?? PreemptionPolicy.PREEMPTION_POLICY_NEVER),
  };
}

/** "lower-priority" for PREEMPTION_POLICY_LOWER_PRIORITY, "never" for none. */
export function preemptionPolicyName(p: PreemptionPolicy | undefined): string {
  return (
    Object.entries(POLICIES).find(
      ([, v]) => v === p && p !== PreemptionPolicy.PREEMPTION_POLICY_NEVER,
    )?.[0] ?? 'never'
  );
}
