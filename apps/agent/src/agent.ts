// The agent: keeps the cluster model live from the informers, reports it to the hub, and carries
// out the hub's dispatches, cancels and fencing lists on the worker cluster. This file puts the
// parts together and runs them: ClusterWatch (cluster-watch.ts) sees the cluster, HubSession
// (hub-session.ts) talks to the hub, GangOrders (gang-orders.ts) turns the hub's orders into
// ledger events, GangEffects (gang-effects.ts) carries out what the ledger decides; they share
// the cluster model, the ledger and the lease. Also start-up (API server version, gang mode),
// shutdown, and the housekeeping tick.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GangScheduling } from '@muster/api';
import { Backoff } from '@muster/common';
import { DRA_API, DRA_WATCHED } from './constants';
import type { Log } from '@muster/log';
import { ClusterWatch } from './cluster-watch';
import type { AgentConfig } from './config';
import { GangEffects } from './gang-effects';
import { EvictionNotices } from './eviction-notices';
import { GangOrders } from './gang-orders';
import { HubSession } from './hub-session';
import { KubeClient, loadKubeConfig } from './kube';
import { Lease } from './lease';
import { Ledger } from './ledger';
import { ClusterModel } from './model';

/** How long LOST member states are resent on every new stream. */
const LOST_RETENTION_MS = 10 * 60_000;
/** Period of the housekeeping loop (bind watchdog, self-fencing, pruning). */
const HOUSEKEEPING_MS = 500;

export class Agent {
  readonly epoch = randomBytes(8).toString('hex');
  private readonly log: Log;
  private readonly model = new ClusterModel();
  /** One record per (gang, token): every decision about gangs is the ledger's (ledger.ts). */
  private readonly ledger = new Ledger();
  /** The lease runs from the process start (see Lease). */
  private readonly lease: Lease;
  private kube!: KubeClient;
  /** How the worker holds gangs together, decided at start. */
  private gangMode: GangScheduling = GangScheduling.GANG_SCHEDULING_GATES;
  /** The worker serves DRA (resource.k8s.io/v1): its devices are watched and reported. */
  private dra = false;
  private watch!: ClusterWatch;
  private session!: HubSession;
  private effects!: GangEffects;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly config: AgentConfig,
    /** The process's log; each part binds its own `component`. */
    private readonly processLog: Log,
  ) {
    this.log = processLog.child({ component: 'agent' });
    this.lease = new Lease(config);
  }

  async start(): Promise<void> {
    const kc = loadKubeConfig(this.config.kubeconfig);
    this.kube = await KubeClient.create(kc, { maxSockets: this.config.createConcurrency });
    const kubernetesVersion = await this.retry('read the API server version', () =>
      this.kube.serverVersion(),
    );
    this.gangMode = await this.decideGangMode();
    this.dra = await this.retry(`discover ${DRA_API}`, () =>
      this.kube.servesResources(DRA_API, DRA_WATCHED),
    );
    if (!this.dra)
      this.log.info('the worker does not serve DRA; reporting no devices', {
        api: DRA_API,
        resources: DRA_WATCHED.join(','),
      });
    this.log.info('agent starting', {
      epoch: this.epoch,
      gangScheduling: this.workloadApi ? 'workload-api' : 'gates',
      dra: this.dra,
      agentVersion: this.config.agentVersion,
      kubernetesVersion,
      server: kc.getCurrentCluster()?.server,
      hub: this.config.hubAddress,
    });
    this.wire(kubernetesVersion);

    await this.watch.start(kc);
    // After a (re)start: gangs with members still unbound get the bind timeout from now.
    this.effects.carryOut(this.ledger.applyAll({ kind: 'synced' }, this.lease.moment()));

    this.session.start();
    this.timers.push(setInterval(() => this.housekeeping(), HOUSEKEEPING_MS));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.session?.stop();
    await this.watch?.stop();
    this.kube?.close();
  }

  /** Makes the parts, each with what it needs of the others. */
  private wire(kubernetesVersion: string): void {
    const { config, kube, model, ledger, lease, workloadApi } = this;
    const log = this.processLog;
    const effects: GangEffects = new GangEffects({
      config,
      kube,
      model,
      ledger,
      lease,
      workloadApi,
      log,
      // The watch and the session are made below; the effects reach them only once started.
      targets: {
        groupNamespaces: (gangId, token) => watch.groupNamespaces(gangId, token),
        deleteGroup: (namespace, name, why, log) => watch.deleteGroup(namespace, name, why, log),
        sendAnswer: (gangId, token, o, log, opts) =>
          session.sendAnswer(gangId, token, o, log, opts),
        hubUp: () => session.up,
      },
    });
    const watch: ClusterWatch = new ClusterWatch({
      kube,
      model,
      lease,
      workloadApi,
      dra: this.dra,
      log,
      gangs: effects,
    });
    const notices: EvictionNotices = new EvictionNotices(
      kube,
      model,
      (gangId, token, members): boolean => session.sendNoticed(gangId, token, members),
      `${config.cluster}/${this.epoch}`,
      log,
    );
    const orders: GangOrders = new GangOrders({
      config,
      ledger,
      lease,
      effects,
      watch,
      workloadApi,
      notices,
      log,
    });
    const session: HubSession = new HubSession({
      config,
      epoch: this.epoch,
      kubernetesVersion,
      gangScheduling: this.gangMode,
      model,
      lease,
      held: () => ledger.held(),
      tick: (now) =>
        effects.carryOut(ledger.applyAll({ kind: 'tick' }, { ...lease.moment(), now })),
      orders,
      log,
    });
    this.effects = effects;
    this.watch = watch;
    this.session = session;
  }

  private get workloadApi(): boolean {
    return this.gangMode === GangScheduling.GANG_SCHEDULING_WORKLOAD_API;
  }

  /** MUSTER_GANG_SCHEDULING against what the worker serves (API discovery). */
  private async decideGangMode(): Promise<GangScheduling> {
    const setting = this.config.gangScheduling;
    if (setting === 'gates') return GangScheduling.GANG_SCHEDULING_GATES;
    const served = await this.retry('discover scheduling.k8s.io/v1alpha2 podgroups', () =>
      this.kube.servesPodGroups(),
    );
    if (served) return GangScheduling.GANG_SCHEDULING_WORKLOAD_API;
    if (setting === 'workload-api') {
      throw new Error(
        'MUSTER_GANG_SCHEDULING=workload-api, but the worker does not serve podgroups in ' +
          'scheduling.k8s.io/v1alpha2 (feature gates GenericWorkload and GangScheduling and ' +
          '--runtime-config=scheduling.k8s.io/v1alpha2=true); use auto or gates',
      );
    }
    return GangScheduling.GANG_SCHEDULING_GATES;
  }

  private async retry<T>(what: string, op: () => Promise<T>): Promise<T> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
    for (;;) {
      try {
        return await op();
      } catch (err) {
        const delay = backoff.next();
        this.log.warn(`could not ${what}; retrying`, { err, retryInMs: delay });
        await sleep(delay);
      }
    }
  }

  // ---- housekeeping: bind watchdog, self-fencing, pruning ----

  private housekeeping(): void {
    if (this.stopped) return;
    // Monotonic, like every stamp it is compared with (review 2.19): a wall-clock step must not
    // fire bind timeouts early or keep doomed gangs and answers forever.
    const m = this.lease.moment();
    const now = m.now;
    this.effects.carryOut(this.ledger.applyAll({ kind: 'tick' }, m));
    this.watch.warnTermless();
    if (this.workloadApi) this.watch.sweepPodGroups(now);
    this.model.pruneLost(LOST_RETENTION_MS, now);
    this.effects.prunePlans(now);
  }
}
