// Which Muster queue an object of the management cluster goes to, by the administrator's rules
// (MUSTER_FRONT_DOOR_QUEUES): `NAMESPACE[/LABEL]=QUEUE`, comma-separated, first match wins.
// NAMESPACE and LABEL are a name or `*`; LABEL is the value of the object's queue label
// (muster.dev/queue, else kueue.x-k8s.io/queue-name); QUEUE is a queue name, `*` for the label's
// value itself, or `-` to refuse. The default `*/*=*` takes the label as the queue name.
import { dns1123LabelError } from '@muster/k8s';

export interface QueueRule {
  namespace: string;
  label: string;
  /** A queue name, '*' (the label's value) or '-' (refused). */
  queue: string;
  /** The rule as written, for messages. */
  text: string;
}

export const DEFAULT_QUEUE_RULES = '*/*=*';

const RULE = /^([^=/]+)(?:\/([^=]+))?=(.+)$/;

function split(text: string): QueueRule | undefined {
  const m = RULE.exec(text);
  if (!m) return undefined;
  return { namespace: m[1]!.trim(), label: (m[2] ?? '*').trim(), queue: m[3]!.trim(), text };
}

/** The problem with one rule, or undefined when it is well formed. */
export function queueRuleError(item: string): string | undefined {
  const rule = split(item);
  if (!rule) return `"${item}" is not NAMESPACE[/LABEL]=QUEUE`;
  const parts = [
    ['namespace', rule.namespace, ['*']],
    ['label', rule.label, ['*']],
    ['queue', rule.queue, ['*', '-']],
  ] as const;
  for (const [what, value, special] of parts) {
    const problem = (special as readonly string[]).includes(value)
      ? undefined
      : dns1123LabelError(value);
    if (problem) return `rule "${item}": ${what} "${value}" ${problem}`;
  }
  return undefined;
}

/** Parses rules that queueRuleError passed. */
export function parseQueueRules(items: readonly string[]): QueueRule[] {
  return items.map((text) => {
    const rule = split(text);
    if (!rule) throw new Error(queueRuleError(text));
    return rule;
  });
}

export type QueueChoice = { queue: string; rule: string } | { refused: string };

/** The queue of an object in `namespace` whose queue label says `label`. */
export function chooseQueue(
  rules: readonly QueueRule[],
  namespace: string,
  label: string,
): QueueChoice {
  for (const r of rules) {
    if (r.namespace !== '*' && r.namespace !== namespace) continue;
    if (r.label !== '*' && r.label !== label) continue;
    if (r.queue === '-')
      return {
        refused: `namespace ${namespace} may not submit to queue "${label}" (rule "${r.text}" of MUSTER_FRONT_DOOR_QUEUES)`,
      };
    return { queue: r.queue === '*' ? label : r.queue, rule: r.text };
  }
  return {
    refused: `no rule of MUSTER_FRONT_DOOR_QUEUES takes namespace ${namespace} with queue "${label}"`,
  };
}
