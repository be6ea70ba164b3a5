// The agent's ledger: one record per (gang, fencing token), and a pure transition function from
// what happens (a dispatch, a cancel, an authoritative list, what the pod informer shows, a
// materialisation step ending, the clock) to the new records plus the effects to carry out
// (create, ungate, delete, answer). The agent only feeds events in and carries effects out, so
// every rule about gangs lives here and is tested without a cluster (ledger.spec.ts, with
// properties over random event orders).
//
// The rules, in one place:
// - A dispatch with a token below the one known for the gang is answered StaleToken; a cancelled
//   token is answered Cancelled; a repeat is answered again (or when its materialisation ends);
//   a new token deletes every older token of the gang in the same step as it is created.
// - Members are created gated; they are ungated only once all exist, and only while nothing has
//   given the gang up (cancel, supersede, fence) and the lease holds.
// - Once the hub has been silent past a gang's self-fence timeout, `requeue` gangs are deleted and
//   every materialisation in flight is given up; nothing is created or ungated under that lapse.
// - A held gang that an applied authoritative list does not name with its token is deleted.
// - A gang not bound within the bind timeout is deleted and answered BindTimeout.
// - A gang the agent deleted is never created again under that token: a repeat is told why.
import type { OnClusterLostPolicy } from './constants';
import {
  fencedByList,
  fenceTermsFor,
  GenerationGate,
  selfFenceDue,
  type FenceTerms,
  type HeldGang,
} from './fencing';
import { ACCEPTED, REJECTED, type Outcome } from './materialise';

/** What the ledger needs of a gang's plan (pod-builder's GangPlan). */
export interface PlanFacts {
  jobId: string;
  namespace: string;
  size: number;
  onClusterLost: OnClusterLostPolicy;
  /** The fence terms in force when the dispatch arrived (recorded on its pods too). */
  terms: FenceTerms | undefined;
}

/** What the pod informer shows of one (gang, token), summed up by the agent from its model. */
export interface Presence {
  jobId: string;
  /** Members of the whole gang (gang-size annotation; at least those seen). */
  size: number;
  /** Members bound to a node. */
  bound: number;
  /** Every member was seen bound at once (sticky). */
  fullyBound: boolean;
  /** Some member is not yet bound, not ended and not being deleted. */
  unbound: boolean;
  /** Some member is neither terminating nor has a delete request in flight. */
  undeleted: boolean;
  onClusterLost: OnClusterLostPolicy;
  /** The fence terms the pods recorded at creation (empty for pods of older agents). */
  recorded: Partial<FenceTerms>;
  /** Why the worker's scheduler leaves members unbound (for a BindTimeout message). */
  schedulerReason: string;
}

/**
 * Where a (gang, token) stands: `creating` members (gated), `ungating` them, `accepted`,
 * `rejected` (answered REJECTED, or given up after ACCEPTED), or `seen` (found in the cluster with
 * no dispatch in this process, e.g. after a restart).
 */
export type Stage = 'creating' | 'ungating' | 'accepted' | 'rejected' | 'seen';

export interface GangRecord {
  readonly gangId: string;
  readonly token: number;
  readonly jobId: string;
  readonly stage: Stage;
  readonly plan?: PlanFacts;
  /** The answer given (or to give) for this token. */
  readonly answer?: Outcome;
  /** Why the materialisation in flight must stop (Cancelled, Superseded, Fenced, SelfFenced). */
  readonly abandon?: string;
  /** Repeats of the dispatch that arrived while it was materialising: each gets the answer. */
  readonly joins: number;
  /** Monotonic ms by which every member must be bound, while that is watched. */
  readonly bindDeadline?: number;
  /** Why the gang must be gone, and since when (monotonic ms): leftovers are deleted again. */
  readonly doom?: { reason: string; since: number };
  /** What the pod informer shows; undefined while no pod of it is in the cluster. */
  readonly presence?: Presence;
  /** Last change (monotonic ms), for forgetting records of gangs long gone. */
  readonly at: number;
}

/** Everything the ledger knows of one gang, across its tokens. */
export interface GangLine {
  readonly gangId: string;
  /** The highest token dispatched, cancelled or answered for the gang in this process. */
  readonly known: number;
  readonly cancelledUpTo: number;
  readonly records: ReadonlyMap<number, GangRecord>;
  readonly at: number;
}

export type Effect =
  /** Create every member gated (and the PodGroup first); report back with `created`. */
  | { kind: 'create'; gangId: string; token: number }
  /** Remove the gates of every member; report back with `ungated`. */
  | { kind: 'ungate'; gangId: string; token: number }
  /**
   * Delete every member (and PodGroup) of the token that is seen or planned. `first`: the gang
   * was just doomed for this reason (else a sweep of leftovers).
   */
  | { kind: 'delete'; gangId: string; token: number; reason: string; first: boolean }
  /** A materialisation in flight was given up for `reason` (it stops at its next request). */
  | { kind: 'gaveUp'; gangId: string; token: number; reason: string }
  /** Send a DispatchAnswer; `keep`: keep it for the next stream while the hub is unreachable. */
  | {
      kind: 'answer';
      gangId: string;
      token: number;
      outcome: Outcome;
      keep: boolean;
      /** For a StaleToken answer: the token the agent knows for the gang. */
      known?: number;
    };

export type GangEvent =
  | { kind: 'dispatch'; token: number; jobId: string; plan: PlanFacts | Outcome }
  /** The create step ended: undefined when every member exists gated, else the REJECTED outcome
   *  (its rollback already deleted what it made). */
  | { kind: 'created'; token: number; failed?: Outcome }
  | { kind: 'ungated'; token: number; outcome: Outcome }
  | { kind: 'cancel'; token: number }
  /** An applied authoritative list names this gang with `token` (undefined: not at all). */
  | { kind: 'listed'; token: number | undefined }
  /** What the pod informer now shows of (gang, token); undefined: no pod of it is left. */
  | { kind: 'pods'; token: number; presence: Presence | undefined }
  /** After the informers synced: gangs with members still unbound get the bind timeout. */
  | { kind: 'synced' }
  /** The clock moved: bind deadlines, the lease, sweeps of leftovers, forgetting. */
  | { kind: 'tick' };

/** The clock and the lease at the moment of an event (all ms, monotonic). */
export interface Moment {
  now: number;
  /** When the hub was last heard from. */
  lastHeardAt: number;
  /** What the hub told about fencing in this process (HelloAck), if anything. */
  told: FenceTerms | undefined;
  /** MUSTER_SELF_FENCE_TIMEOUT_MS: the fallback for pods that recorded no terms. */
  fallbackTimeoutMs: number | undefined;
  bindTimeoutMs: number;
}

/**
 * The answer to a dispatch whose token is below the one the agent knows for the gang: it names the
 * known token (`known=N`), so a hub whose generation went back can move past it (review 2.21).
 */
export function staleTokenOutcome(token: number, known: number): Outcome {
  return {
    outcome: REJECTED,
    reason: 'StaleToken',
    message: `fencing token ${token} is below the token this agent knows for the gang (known=${known})`,
  };
}

/** Time the first delete of a gang gets before leftovers are deleted again. */
export const SWEEP_GRACE_MS = 2_000;
/** How long a record of a gang no longer in the cluster is kept (answers to repeats). */
export const RECORD_RETENTION_MS = 10 * 60_000;

export interface Step {
  line: GangLine | undefined;
  effects: Effect[];
}

function inFlight(r: GangRecord): boolean {
  return r.stage === 'creating' || r.stage === 'ungating';
}

/** True when the record is held: in the cluster, being materialised, or ACCEPTED. */
export function isHeld(r: GangRecord): boolean {
  return r.presence !== undefined || inFlight(r) || r.answer?.outcome === ACCEPTED;
}

/** The lease under `terms` has run out at this moment. */
function lapsed(terms: FenceTerms | undefined, m: Moment): boolean {
  return selfFenceDue(m.lastHeardAt, terms?.selfFenceTimeoutMs, m.now);
}

/** The terms that govern a gang present in the cluster (see fenceTermsFor). */
function presentTerms(r: GangRecord, m: Moment): FenceTerms | undefined {
  return fenceTermsFor(m.told, r.presence?.recorded ?? {}, m.fallbackTimeoutMs);
}

/** The terms that govern a materialisation in flight: those in force when it was dispatched. */
function planTerms(r: GangRecord, m: Moment): FenceTerms | undefined {
  return r.plan?.terms ?? fenceTermsFor(m.told, {}, m.fallbackTimeoutMs);
}

/** Why the materialisation in flight must stop at this moment, if it must. */
export function stopReason(r: GangRecord | undefined, m: Moment): string | undefined {
  if (!r || !inFlight(r)) return 'Gone';
  return r.abandon ?? (lapsed(planTerms(r, m), m) ? 'SelfFenced' : undefined);
}

class Builder {
  /** The line's records, copied on the first change (a tick changes most lines not at all). */
  private own: Map<number, GangRecord> | undefined;
  readonly effects: Effect[] = [];
  known: number;
  cancelledUpTo: number;

  constructor(
    readonly gangId: string,
    private readonly line: GangLine | undefined,
    readonly m: Moment,
  ) {
    this.known = line?.known ?? -1;
    this.cancelledUpTo = line?.cancelledUpTo ?? -1;
  }

  get records(): ReadonlyMap<number, GangRecord> {
    return this.own ?? this.line?.records ?? EMPTY;
  }

  private writable(): Map<number, GangRecord> {
    return (this.own ??= new Map(this.line?.records ?? []));
  }

  set(r: GangRecord): void {
    this.writable().set(r.token, r);
  }

  forget(token: number): void {
    this.writable().delete(token);
  }

  answer(r: GangRecord, outcome: Outcome, times = 1): void {
    for (let i = 0; i < times; i++)
      this.effects.push({ kind: 'answer', gangId: r.gangId, token: r.token, outcome, keep: true });
  }

  /** Marks the record to be gone and deletes what it has; an ACCEPTED no longer stands. */
  doom(r: GangRecord, reason: string): GangRecord {
    const next: GangRecord = {
      ...r,
      stage: inFlight(r) ? r.stage : r.stage === 'seen' ? 'seen' : 'rejected',
      abandon: inFlight(r) ? (r.abandon ?? reason) : r.abandon,
      // A repeat of the dispatch is told the gang is gone, never re-created under this token
      // (also for a gang found in the cluster after a restart, which has no answer yet).
      answer:
        r.answer === undefined || r.answer.outcome === ACCEPTED
          ? { outcome: REJECTED, reason, message: `the gang was deleted (${reason})` }
          : r.answer,
      bindDeadline: undefined,
      doom: r.doom?.reason === reason ? r.doom : { reason, since: this.m.now },
      at: this.m.now,
    };
    this.set(next);
    this.effects.push({
      kind: 'delete',
      gangId: r.gangId,
      token: r.token,
      reason,
      first: r.doom?.reason !== reason,
    });
    return next;
  }

  /** `touch`: the event was about this gang (a tick is not), so it is remembered longer. */
  done(touch: boolean): Step {
    const line = this.line;
    if (this.records.size === 0 && this.known < 0 && this.cancelledUpTo < 0)
      return { line: undefined, effects: this.effects };
    const same =
      line !== undefined &&
      this.own === undefined &&
      !touch &&
      this.known === line.known &&
      this.cancelledUpTo === line.cancelledUpTo;
    if (same) return { line, effects: this.effects };
    return {
      line: {
        gangId: this.gangId,
        known: this.known,
        cancelledUpTo: this.cancelledUpTo,
        records: this.records,
        at: touch || !line ? this.m.now : line.at,
      },
      effects: this.effects,
    };
  }
}

const EMPTY: ReadonlyMap<number, GangRecord> = new Map();

function fresh(gangId: string, token: number, jobId: string, now: number): GangRecord {
  return { gangId, token, jobId, stage: 'seen', joins: 0, at: now };
}

/** The transition function of one gang: its line and an event in, its new line and effects out. */
export function step(gangId: string, line: GangLine | undefined, e: GangEvent, m: Moment): Step {
  const b = new Builder(gangId, line, m);
  switch (e.kind) {
    case 'dispatch':
      onDispatch(b, e);
      break;
    case 'created':
      onCreated(b, e.token, e.failed);
      break;
    case 'ungated':
      onUngated(b, e.token, e.outcome);
      break;
    case 'cancel':
      b.cancelledUpTo = Math.max(b.cancelledUpTo, e.token);
      b.known = Math.max(b.known, e.token);
      for (const r of [...b.records.values()])
        if (r.token <= e.token && isHeld(r)) b.doom(r, 'Cancelled');
      break;
    case 'listed':
      for (const r of [...b.records.values()])
        if (isHeld(r) && r.token !== e.token) b.doom(r, 'Fenced');
      break;
    case 'pods':
      onPods(b, e.token, e.presence);
      break;
    case 'synced':
      for (const r of [...b.records.values()]) {
        const p = r.presence;
        if (p && p.unbound && !p.fullyBound) b.set({ ...r, bindDeadline: m.now + m.bindTimeoutMs });
      }
      break;
    case 'tick':
      onTick(b);
      break;
  }
  return b.done(e.kind !== 'tick');
}

function onDispatch(b: Builder, e: Extract<GangEvent, { kind: 'dispatch' }>): void {
  const { m } = b;
  const present = [...b.records.values()].filter((r) => r.presence).map((r) => r.token);
  const known = Math.max(b.known, ...present);
  const old = b.records.get(e.token);
  if (e.token < known) {
    // Not kept for the next stream: it would replace the gang's real pending answer, and the hub
    // redelivers a stale dispatch anyway.
    b.effects.push({
      kind: 'answer',
      gangId: b.gangId,
      token: e.token,
      outcome: staleTokenOutcome(e.token, known),
      keep: false,
      known,
    });
    return;
  }
  if (e.token <= b.cancelledUpTo) {
    const cancelled = { outcome: REJECTED, reason: 'Cancelled', message: 'the gang was cancelled' };
    b.effects.push({
      kind: 'answer',
      gangId: b.gangId,
      token: e.token,
      outcome: cancelled,
      keep: true,
    });
    return;
  }
  if (old && inFlight(old)) {
    b.set({ ...old, joins: old.joins + 1 });
    return;
  }
  if (old?.answer) {
    b.answer(old, old.answer);
    return;
  }
  if (!('outcome' in e.plan) && lapsed(e.plan.terms, m)) {
    // The lease ran out before this dispatch came: it may have waited in the network while the
    // hub gave the gang up here and dispatched it elsewhere. Nothing is created under a lapsed
    // lease; the hub hears no and places the gang again.
    const refused: Outcome = {
      outcome: REJECTED,
      reason: 'SelfFenced',
      message: 'the agent had not heard from the hub within its self-fence timeout',
    };
    const r: GangRecord = {
      ...(old ?? fresh(b.gangId, e.token, e.jobId, m.now)),
      stage: 'rejected',
      answer: refused,
      at: m.now,
    };
    b.set(r);
    b.answer(r, refused);
    return;
  }
  b.known = Math.max(b.known, e.token);
  // One live token per gang: every older one goes in the same step as this one is created.
  for (const r of [...b.records.values()])
    if (r.token < e.token && isHeld(r)) b.doom(r, 'Superseded');
  const base = old ?? fresh(b.gangId, e.token, e.jobId, m.now);
  if ('outcome' in e.plan) {
    const r: GangRecord = { ...base, stage: 'rejected', answer: e.plan, at: m.now };
    b.set(r);
    b.answer(r, e.plan);
    return;
  }
  b.set({
    ...base,
    jobId: e.jobId,
    stage: 'creating',
    plan: e.plan,
    answer: undefined,
    abandon: undefined,
    joins: 0,
    bindDeadline: undefined,
    doom: undefined,
    at: m.now,
  });
  b.effects.push({ kind: 'create', gangId: b.gangId, token: e.token });
}

function onCreated(b: Builder, token: number, failed: Outcome | undefined): void {
  const r = b.records.get(token);
  if (!r || r.stage !== 'creating') return;
  const stop = failed ? undefined : stopReason(r, b.m);
  if (!failed && !stop) {
    // Every member exists, gated: now, and only now, the gates may go.
    b.set({ ...r, stage: 'ungating', at: b.m.now });
    b.effects.push({ kind: 'ungate', gangId: r.gangId, token });
    return;
  }
  if (failed) return finishRejected(b, r, failed);
  // Given up after the last create: the gated members go (nothing was ungated).
  finishRejected(b, r, {
    outcome: REJECTED,
    reason: stop!,
    message: `gang ${stop!.toLowerCase()} while being created`,
  });
  b.effects.push({ kind: 'delete', gangId: r.gangId, token, reason: stop!, first: false });
}

function onUngated(b: Builder, token: number, outcome: Outcome): void {
  const r = b.records.get(token);
  if (!r || r.stage !== 'ungating') return;
  if (outcome.outcome !== ACCEPTED) return finishRejected(b, r, outcome);
  // Given up while the last gates went: the gang is not kept (its delete is already due).
  const stop = r.abandon;
  if (stop) {
    finishRejected(b, r, {
      outcome: REJECTED,
      reason: stop,
      message: `gang ${stop.toLowerCase()} while being ungated`,
    });
    b.effects.push({ kind: 'delete', gangId: r.gangId, token, reason: stop, first: false });
    return;
  }
  const next: GangRecord = {
    ...r,
    stage: 'accepted',
    answer: outcome,
    joins: 0,
    bindDeadline: r.presence?.fullyBound ? undefined : b.m.now + b.m.bindTimeoutMs,
    at: b.m.now,
  };
  b.set(next);
  b.answer(next, outcome, 1 + r.joins);
}

function finishRejected(b: Builder, r: GangRecord, outcome: Outcome): void {
  // The rollback deleted every member; the sweep deletes whatever it could not.
  const next: GangRecord = {
    ...r,
    stage: 'rejected',
    answer: outcome,
    joins: 0,
    bindDeadline: undefined,
    doom: r.doom ?? { reason: outcome.reason, since: b.m.now },
    at: b.m.now,
  };
  b.set(next);
  b.answer(next, outcome, 1 + r.joins);
}

function onPods(b: Builder, token: number, presence: Presence | undefined): void {
  const r = b.records.get(token);
  if (!presence) {
    if (r) b.set({ ...r, presence: undefined, at: b.m.now });
    return;
  }
  const base = r ?? fresh(b.gangId, token, presence.jobId, b.m.now);
  b.set({
    ...base,
    presence,
    // Bound, not merely reflected: pinned members are charged before they bind.
    bindDeadline: presence.fullyBound ? undefined : base.bindDeadline,
    at: b.m.now,
  });
}

function onTick(b: Builder): void {
  const { m } = b;
  // Changes go to the builder's own copy; this iterates the records as the tick found them.
  for (const r0 of b.records.values()) {
    let r = r0;
    // Bind watchdog.
    if (r.bindDeadline !== undefined && !inFlight(r) && m.now >= r.bindDeadline) {
      const p = r.presence;
      const outcome: Outcome = {
        outcome: REJECTED,
        reason: 'BindTimeout',
        message: `${p?.bound ?? 0} of ${p?.size ?? 0} members bound within ${m.bindTimeoutMs} ms; worker scheduler: ${p?.schedulerReason ?? 'no member left unbound'}`,
      };
      r = b.doom(r, 'BindTimeout');
      r = { ...r, answer: outcome };
      b.set(r);
      b.answer(r, outcome);
    }
    // The lease: a materialisation in flight stops creating and ungating.
    if (inFlight(r) && !r.abandon && lapsed(planTerms(r, m), m)) {
      r = { ...r, abandon: 'SelfFenced', at: m.now };
      b.set(r);
      b.effects.push({ kind: 'gaveUp', gangId: r.gangId, token: r.token, reason: 'SelfFenced' });
    }
    // The lease: a `requeue` gang present in the cluster is deleted (`wait` gangs keep running).
    const p = r.presence;
    if (p?.onClusterLost === 'requeue' && p.undeleted && lapsed(presentTerms(r, m), m)) {
      r = b.doom(r, 'SelfFenced');
    } else if (r.doom && !inFlight(r) && p?.undeleted && m.now - r.doom.since > SWEEP_GRACE_MS) {
      // Leftovers of a gang that must be gone (a delete may fail, the informer may lag).
      b.effects.push({
        kind: 'delete',
        gangId: r.gangId,
        token: r.token,
        reason: r.doom.reason,
        first: false,
      });
    }
    // Forget records of gangs long gone.
    if (!p && !inFlight(r) && m.now - r.at > RECORD_RETENTION_MS) b.forget(r.token);
  }
}

/** The ledger of every gang: the lines, the list generation gate, and the step applied to them. */
export class Ledger {
  private readonly lines = new Map<string, GangLine>();
  private readonly lists = new GenerationGate();

  /** Applies one gang's event; returns the effects to carry out. */
  apply(gangId: string, e: GangEvent, m: Moment): Effect[] {
    const old = this.lines.get(gangId);
    const { line, effects } = step(gangId, old, e, m);
    if (!line) this.lines.delete(gangId);
    else if (line !== old) this.lines.set(gangId, line);
    return effects;
  }

  /**
   * An authoritative list: applied in generation order (equal generations re-apply), to every
   * gang; undefined when it is older than the last one applied.
   */
  applyList(
    generation: number,
    gangs: ReadonlyArray<{ gangId: string; fencingToken: number }>,
    m: Moment,
  ): Effect[] | undefined {
    if (!this.lists.accept(generation)) return undefined;
    const listed = new Map(gangs.map((g) => [g.gangId, g.fencingToken]));
    const out: Effect[] = [];
    for (const gangId of new Set(fencedByList(this.held(), gangs).map((g) => g.gangId)))
      out.push(...this.apply(gangId, { kind: 'listed', token: listed.get(gangId) }, m));
    return out;
  }

  /** An event for every gang (tick, synced). */
  applyAll(e: GangEvent, m: Moment): Effect[] {
    const out: Effect[] = [];
    // Setting or deleting the key being visited is safe while iterating a Map.
    for (const [gangId, old] of this.lines) {
      const { line, effects } = step(gangId, old, e, m);
      // Lines with nothing left and no token worth remembering go.
      if (!line || (line.records.size === 0 && m.now - line.at > RECORD_RETENTION_MS))
        this.lines.delete(gangId);
      else if (line !== old) this.lines.set(gangId, line);
      for (const x of effects) out.push(x);
    }
    return out;
  }

  get lastListGeneration(): number {
    return this.lists.lastApplied;
  }

  record(gangId: string, token: number): GangRecord | undefined {
    return this.lines.get(gangId)?.records.get(token);
  }

  records(): GangRecord[] {
    const out: GangRecord[] = [];
    for (const line of this.lines.values()) out.push(...line.records.values());
    return out;
  }

  /** Every (gang, token) held: in the cluster, being materialised, or ACCEPTED. */
  held(): HeldGang[] {
    return this.records()
      .filter(isHeld)
      .map((r) => ({ gangId: r.gangId, token: r.token }))
      .sort((a, b) => (a.gangId < b.gangId ? -1 : a.gangId > b.gangId ? 1 : a.token - b.token));
  }

  get size(): number {
    return this.lines.size;
  }
}
