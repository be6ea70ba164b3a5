// Eviction notices: the hub preempted a gang or drained the cluster. Every member pod gets the
// notice as an annotation (the workload reads it through the downward API to checkpoint) and an
// Event, the shape of the scheduler's own preemption events; then the agent confirms, and the
// hub's grace period starts. Nothing is deleted here: the hub's Cancel does that once the grace
// period ends. A repeated notice (a resync, a resend) marks only members without one.
import type { EvictionNotice } from '@muster/api';
import type { Log } from '@muster/log';
import { ANNOTATION_EVICTION_NOTICE } from './constants';
import type { ClusterModel } from './model';
import type { PodRecord } from './objects';

/** The writes a notice needs (KubeClient; faked in unit tests). */
export interface NoticeApi {
  annotatePod(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<boolean>;
  createEvent(namespace: string, body: object): Promise<void>;
}

/** Members marked at once. */
const CONCURRENCY = 16;

export class EvictionNotices {
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly kube: NoticeApi,
    private readonly model: ClusterModel,
    /** Tells the hub the notice is on the members; false when the stream is down. */
    private readonly confirm: (gangId: string, token: number, members: number) => boolean,
    private readonly agentId: string,
    private readonly log: Log,
  ) {}

  onNotice(n: EvictionNotice): void {
    const key = `${n.gangId}#${n.fencingToken}`;
    // The hub resends an unconfirmed notice; one in progress answers when it is done.
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    void this.mark(n)
      .then((marked) => {
        if (marked === undefined) return;
        this.confirm(n.gangId, n.fencingToken, marked);
      })
      .finally(() => this.inFlight.delete(key));
  }

  /** Marks every live member; the number marked (before or now), or undefined on a failure. */
  private async mark(n: EvictionNotice): Promise<number | undefined> {
    const log = this.log.child({ gang: n.gangId, token: n.fencingToken, reason: n.reason });
    const members = [...(this.model.gang(n.gangId, n.fencingToken)?.members.values() ?? [])].filter(
      (p) => !p.deleting && !p.terminal,
    );
    const todo = members.filter((p) => p.notice === '');
    const now = new Date();
    const notice = JSON.stringify({
      reason: n.reason,
      message: n.message,
      graceSeconds: n.graceSeconds,
      noticedAt: now.toISOString(),
      deleteAfter: new Date(now.getTime() + n.graceSeconds * 1000).toISOString(),
    });
    let failed = 0;
    for (let i = 0; i < todo.length; i += CONCURRENCY) {
      await Promise.all(
        todo.slice(i, i + CONCURRENCY).map(async (p) => {
          try {
            if (
              await this.kube.annotatePod(p.namespace, p.name, {
                [ANNOTATION_EVICTION_NOTICE]: notice,
              })
            )
              await this.kube.createEvent(p.namespace, this.event(p, n, now));
          } catch (err) {
            failed++;
            log.warn('could not give a member its eviction notice', { pod: p.key, err });
          }
        }),
      );
    }
    if (failed > 0) return undefined; // the hub sends the notice again
    log.info('eviction notice given', {
      members: members.length,
      marked: todo.length,
      graceSeconds: n.graceSeconds,
    });
    return members.length;
  }

  /** A core/v1 Event on the pod, as kube-scheduler reports a preemption (reason, Warning). */
  private event(p: PodRecord, n: EvictionNotice, now: Date): object {
    return {
      metadata: { generateName: `${p.name}.`, namespace: p.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name: p.name,
        namespace: p.namespace,
        ...(p.uid ? { uid: p.uid } : {}),
      },
      reason: n.reason,
      message: `${n.message} (deleted in ${n.graceSeconds} s unless it ends first)`,
      type: 'Warning',
      source: { component: 'muster-agent' },
      reportingComponent: 'muster.dev/agent',
      reportingInstance: this.agentId,
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      count: 1,
    };
  }
}
