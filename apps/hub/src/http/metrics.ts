import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The hub's Prometheus metrics, on one registry served at /metrics. */
export class HubMetrics {
  readonly registry = new Registry();
  private readonly calls = new Counter({
    name: 'muster_grpc_requests_total',
    help: 'gRPC calls handled, by method and status code.',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'muster_grpc_request_duration_seconds',
    help: 'gRPC call duration (for streams: until the stream ends).',
    labelNames: ['method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly jobsSubmitted = new Counter({
    name: 'muster_jobs_submitted_total',
    help: 'Jobs stored by SubmitJob (retries of one client request id count once).',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  readonly watchers = new Gauge({
    name: 'muster_job_watchers',
    help: 'Open WatchJob and WatchJobs streams on this replica.',
    registers: [this.registry],
  });

  private readonly cyclePhases = new Histogram({
    name: 'muster_scheduling_cycle_phase_seconds',
    help: 'Time one scheduling cycle spent in each phase: load, capacity, order, place, verdicts, commit, enqueue.',
    labelNames: ['phase'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  /** Submit to reservation, per queue: how long gangs wait to be placed. */
  private readonly queueWait = new Histogram({
    name: 'muster_gang_queue_wait_seconds',
    help: 'Time from submit to the reservation that placed the gang (a requeued gang counts from its submit again), by queue.',
    labelNames: ['queue'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400],
    registers: [this.registry],
  });
  /** Reservation to ACCEPTED: the hub's dispatch and the agent creating every member. */
  readonly dispatchSeconds = new Histogram({
    name: 'muster_dispatch_duration_seconds',
    help: "Time from a gang's reservation to its agent answering ACCEPTED (every member created in the worker).",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly gangsReserved = new Counter({
    name: 'muster_gangs_reserved_total',
    help: 'Gangs a scheduling cycle placed and reserved on a cluster.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'muster_hub_' });
  }

  observeCall(method: string, code: string, startedNs: bigint): void {
    this.calls.inc({ method, code });
    this.latency.observe({ method }, Number(process.hrtime.bigint() - startedNs) / 1e9);
  }

  /** Records one scheduling cycle's phase timings (ms) and the gangs it reserved. */
  observeCycle(
    phases: Readonly<Record<string, number>>,
    reserved: readonly { queue: string; waitedSeconds: number }[],
  ): void {
    for (const [phase, ms] of Object.entries(phases))
      this.cyclePhases.observe({ phase }, ms / 1000);
    this.gangsReserved.inc(reserved.length);
    for (const r of reserved) this.queueWait.observe({ queue: r.queue }, r.waitedSeconds);
  }
}
