import fc from 'fast-check';
import type { OnClusterLostPolicy } from './constants';
import {
  Ledger,
  RECORD_RETENTION_MS,
  stopReason,
  type Effect,
  type Moment,
  type PlanFacts,
  type Presence,
} from './ledger';
import { ACCEPTED, REJECTED, type Outcome } from './materialise';

const TERMS = { selfFenceTimeoutMs: 1_000 };
const BIND_MS = 3_000;
const ok: Outcome = { outcome: ACCEPTED, reason: '', message: '2 members created and ungated' };

function moment(now: number, lastHeardAt = now): Moment {
  return { now, lastHeardAt, told: TERMS, fallbackTimeoutMs: undefined, bindTimeoutMs: BIND_MS };
}

function plan(size = 2, onClusterLost: OnClusterLostPolicy = 'wait'): PlanFacts {
  return { jobId: 'j', namespace: 'ns', size, onClusterLost, terms: TERMS };
}

function presence(size: number, onClusterLost: OnClusterLostPolicy, bound = false): Presence {
  return {
    jobId: 'j',
    size,
    bound: bound ? size : 0,
    fullyBound: bound,
    unbound: !bound,
    undeleted: true,
    onClusterLost,
    recorded: TERMS,
    schedulerReason: 'SchedulingGated',
  };
}

const kinds = (effects: Effect[]) =>
  effects.map((e) =>
    e.kind === 'answer'
      ? `answer ${e.token} ${e.outcome.reason || 'ACCEPTED'}`
      : `${e.kind} ${e.token}${e.kind === 'delete' ? ` ${e.reason}` : ''}`,
  );

describe('Ledger (examples)', () => {
  it('creates gated, ungates only when all exist, answers, and replays the answer', () => {
    const l = new Ledger();
    const m = moment(0);
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, m)),
    ).toEqual(['create 1']);
    // A repeat while materialising is answered when it ends.
    expect(l.apply('g', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, m)).toEqual([]);
    expect(kinds(l.apply('g', { kind: 'created', token: 1 }, m))).toEqual(['ungate 1']);
    expect(kinds(l.apply('g', { kind: 'ungated', token: 1, outcome: ok }, m))).toEqual([
      'answer 1 ACCEPTED',
      'answer 1 ACCEPTED',
    ]);
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, m)),
    ).toEqual(['answer 1 ACCEPTED']);
    expect(l.held()).toEqual([{ gangId: 'g', token: 1 }]);
  });

  it('answers a stale token StaleToken naming the known token, and keeps no state for it', () => {
    const l = new Ledger();
    l.apply('g', { kind: 'pods', token: 7, presence: presence(2, 'wait') }, moment(0));
    const [a] = l.apply('g', { kind: 'dispatch', token: 6, jobId: 'j', plan: plan() }, moment(0));
    expect(a).toEqual({
      kind: 'answer',
      gangId: 'g',
      token: 6,
      keep: false,
      known: 7,
      outcome: {
        outcome: REJECTED,
        reason: 'StaleToken',
        message: 'fencing token 6 is below the token this agent knows for the gang (known=7)',
      },
    });
    expect(l.record('g', 6)).toBeUndefined();
  });

  it('a newer token deletes the older one in the same step as it is created', () => {
    const l = new Ledger();
    const m = moment(0);
    l.apply('g', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, m);
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 2, jobId: 'j', plan: plan() }, m)),
    ).toEqual(['delete 1 Superseded', 'create 2']);
    // The older materialisation ends after it was given up: no ungate, answered Superseded.
    expect(kinds(l.apply('g', { kind: 'created', token: 1 }, m))).toEqual([
      'answer 1 Superseded',
      'delete 1 Superseded',
    ]);
  });

  it('cancel deletes, a late repeat is answered Cancelled and creates nothing', () => {
    const l = new Ledger();
    const m = moment(0);
    l.apply('g', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, m);
    l.apply('g', { kind: 'created', token: 1 }, m);
    l.apply('g', { kind: 'ungated', token: 1, outcome: ok }, m);
    expect(kinds(l.apply('g', { kind: 'cancel', token: 1 }, m))).toEqual(['delete 1 Cancelled']);
    expect(l.held()).toEqual([]);
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, m)),
    ).toEqual(['answer 1 Cancelled']);
  });

  it('deletes and answers BindTimeout a gang not bound in time; a bound one stays', () => {
    const l = new Ledger();
    l.apply('g', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, moment(0));
    l.apply('g', { kind: 'created', token: 1 }, moment(0));
    l.apply('g', { kind: 'ungated', token: 1, outcome: ok }, moment(0));
    l.apply('g', { kind: 'pods', token: 1, presence: presence(2, 'wait') }, moment(10));
    l.apply('h', { kind: 'pods', token: 1, presence: presence(1, 'wait') }, moment(0));
    l.applyAll({ kind: 'synced' }, moment(0));
    l.apply('h', { kind: 'pods', token: 1, presence: presence(1, 'wait', true) }, moment(100));
    expect(kinds(l.applyAll({ kind: 'tick' }, moment(BIND_MS - 1, BIND_MS - 1)))).toEqual([]);
    const effects = l.applyAll({ kind: 'tick' }, moment(BIND_MS, BIND_MS));
    expect(kinds(effects)).toEqual(['delete 1 BindTimeout', 'answer 1 BindTimeout']);
    expect(effects[1]).toMatchObject({
      gangId: 'g',
      outcome: {
        message: `0 of 2 members bound within ${BIND_MS} ms; worker scheduler: SchedulingGated`,
      },
    });
  });

  it('holds an ACCEPTED gang whose pods the informer has not seen yet', () => {
    // The old snapshot held only what the pod informer had seen: nothing here, and the hub would
    // have requeued or failed a gang it had just been told was accepted.
    const l = new Ledger();
    const m = moment(0);
    l.apply('b', { kind: 'dispatch', token: 1, jobId: 'j', plan: plan() }, m);
    l.apply('a', { kind: 'dispatch', token: 2, jobId: 'j', plan: plan() }, m);
    l.apply('a', { kind: 'created', token: 2 }, m);
    l.apply('a', { kind: 'ungated', token: 2, outcome: ok }, m);
    expect(l.held()).toEqual([
      { gangId: 'a', token: 2 },
      { gangId: 'b', token: 1 },
    ]);
  });

  it('re-runs a token the cluster holds that this process never dispatched (after a restart)', () => {
    const l = new Ledger();
    l.apply('g', { kind: 'pods', token: 3, presence: presence(2, 'wait') }, moment(0));
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 3, jobId: 'j', plan: plan() }, moment(0))),
    ).toEqual(['create 3']);
  });

  it('self-fences only requeue gangs: a running wait gang stays under a lapsed lease', () => {
    const l = new Ledger();
    l.apply('w', { kind: 'pods', token: 1, presence: presence(2, 'wait', true) }, moment(0));
    l.apply('r', { kind: 'pods', token: 1, presence: presence(2, 'requeue', true) }, moment(0));
    const effects = l.applyAll({ kind: 'tick' }, moment(2_000, 0));
    expect(effects.map((e) => `${e.gangId} ${kinds([e])[0]}`)).toEqual(['r delete 1 SelfFenced']);
  });

  it('creates nothing for a dispatch that arrives after the lease ran out, and says so', () => {
    const l = new Ledger();
    const late = l.apply(
      'g',
      { kind: 'dispatch', token: 2, jobId: 'j', plan: plan() },
      moment(2_000, 0),
    );
    expect(kinds(late)).toEqual(['answer 2 SelfFenced']);
    // The same dispatch again once the hub is heard: still no, never created for that token.
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 2, jobId: 'j', plan: plan() }, moment(2_100))),
    ).toEqual(['answer 2 SelfFenced']);
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 3, jobId: 'j', plan: plan() }, moment(2_100))),
    ).toEqual(['create 3']);
  });

  it('never re-creates a gang it deleted: a repeat is told it is gone', () => {
    const l = new Ledger();
    l.apply('g', { kind: 'pods', token: 3, presence: presence(2, 'requeue') }, moment(0));
    expect(kinds(l.applyAll({ kind: 'tick' }, moment(2_000, 0)))).toEqual(['delete 3 SelfFenced']);
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 3, jobId: 'j', plan: plan() }, moment(2_000))),
    ).toEqual(['answer 3 SelfFenced']);
  });

  it('a cancel of an older token leaves a newer materialisation alone; a cancelled one stops', () => {
    const l = new Ledger();
    const m = moment(0);
    l.apply('g', { kind: 'dispatch', token: 3, jobId: 'j', plan: plan() }, m);
    expect(l.apply('g', { kind: 'cancel', token: 2 }, m)).toEqual([]);
    expect(stopReason(l.record('g', 3), m)).toBeUndefined();
    l.apply('g', { kind: 'cancel', token: 3 }, m);
    expect(stopReason(l.record('g', 3), m)).toBe('Cancelled');
    expect(
      kinds(l.apply('g', { kind: 'dispatch', token: 4, jobId: 'j', plan: plan() }, m)),
    ).toEqual(['delete 3 Superseded', 'create 4']);
  });

  it('applies lists in generation order, sparing the listed token', () => {
    const l = new Ledger();
    const m = moment(0);
    l.apply('g', { kind: 'dispatch', token: 3, jobId: 'j', plan: plan() }, m);
    expect(l.applyList(5, [{ gangId: 'g', fencingToken: 3 }], m)).toEqual([]);
    expect(l.applyList(4, [], m)).toBeUndefined();
    expect(stopReason(l.record('g', 3), m)).toBeUndefined();
    expect(kinds(l.applyList(5, [{ gangId: 'g', fencingToken: 4 }], m)!)).toEqual([
      'delete 3 Fenced',
    ]);
    expect(stopReason(l.record('g', 3), m)).toBe('Fenced');
  });

  it('forgets a gang long gone, known token included', () => {
    const l = new Ledger();
    l.apply('g', { kind: 'pods', token: 3, presence: presence(1, 'wait') }, moment(0));
    l.apply('g', { kind: 'pods', token: 3, presence: undefined }, moment(0));
    l.applyAll({ kind: 'tick' }, moment(RECORD_RETENTION_MS + 1));
    l.applyAll({ kind: 'tick' }, moment(2 * RECORD_RETENTION_MS + 2));
    expect(l.size).toBe(0);
  });
});

// ---- properties over random event orders ----

type Cmd =
  | { k: 'dispatch'; g: number; t: number; size: number; policy: OnClusterLostPolicy }
  | { k: 'cancel'; g: number; t: number }
  | { k: 'list'; gen: number; gangs: Array<[number, number]> }
  | { k: 'createDone'; pick: number; fail: boolean }
  | { k: 'ungateDone'; pick: number; fail: boolean }
  | { k: 'bind'; pick: number }
  | { k: 'advance'; ms: number }
  | { k: 'tick' };

const gang = fc.integer({ min: 0, max: 2 });
const token = fc.integer({ min: 0, max: 4 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    k: fc.constant('dispatch' as const),
    g: gang,
    t: token,
    size: fc.integer({ min: 1, max: 3 }),
    policy: fc.constantFrom<OnClusterLostPolicy>('wait', 'requeue'),
  }),
  fc.record({ k: fc.constant('cancel' as const), g: gang, t: token }),
  fc.record({
    k: fc.constant('list' as const),
    gen: fc.integer({ min: 0, max: 6 }),
    gangs: fc.array(fc.tuple(gang, token), { maxLength: 3 }),
  }),
  fc.record({ k: fc.constant('createDone' as const), pick: fc.nat(), fail: fc.boolean() }),
  fc.record({ k: fc.constant('createDone' as const), pick: fc.nat(), fail: fc.constant(false) }),
  fc.record({ k: fc.constant('ungateDone' as const), pick: fc.nat(), fail: fc.boolean() }),
  fc.record({ k: fc.constant('bind' as const), pick: fc.nat() }),
  fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
  fc.constant({ k: 'tick' as const }),
);

/** The worker cluster as the effects leave it, and what the invariants say of it. */
class World {
  readonly ledger = new Ledger();
  now = 0;
  lastHeardAt = 0;
  /** "g#t" → members present (all gated until ungated). */
  readonly members = new Map<
    string,
    {
      gangId: string;
      token: number;
      size: number;
      ungated: boolean;
      bound: boolean;
      policy: OnClusterLostPolicy;
    }
  >();
  readonly plans = new Map<string, PlanFacts>();
  readonly creating: string[] = [];
  readonly ungating: string[] = [];
  /** (gang, token)s deleted for SelfFenced: never to be created again. */
  readonly selfFenced = new Set<string>();
  readonly violations: string[] = [];

  m(): Moment {
    return moment(this.now, this.lastHeardAt);
  }

  lapsed(): boolean {
    // As selfFenceDue: silent for longer than the timeout.
    return this.now - this.lastHeardAt > TERMS.selfFenceTimeoutMs;
  }

  /** A message from the hub: what was due is fenced first, then the lease is renewed. */
  hubMessage(): void {
    this.run(this.ledger.applyAll({ kind: 'tick' }, this.m()));
    this.lastHeardAt = this.now;
  }

  presenceOf(key: string): Presence | undefined {
    const w = this.members.get(key);
    if (!w) return undefined;
    return presence(w.size, w.policy, w.bound);
  }

  run(effects: Effect[]): void {
    for (const e of effects) {
      const key = `${e.gangId}#${e.token}`;
      switch (e.kind) {
        case 'create':
          if (this.lapsed()) this.violations.push(`[lease] create ${key} under a lapsed lease`);
          if (this.selfFenced.has(key))
            this.violations.push(`[lease] create ${key} after it was self-fenced`);
          this.creating.push(key);
          break;
        case 'ungate': {
          const w = this.members.get(key);
          const size = this.plans.get(key)?.size;
          if (!w || w.size !== size)
            this.violations.push(`[partial] ungate ${key}: not every member exists`);
          if (this.lapsed()) this.violations.push(`[lease] ungate ${key} under a lapsed lease`);
          if (w) w.ungated = true;
          this.ungating.push(key);
          break;
        }
        case 'delete':
          if (e.reason === 'SelfFenced') this.selfFenced.add(key);
          if (this.members.delete(key))
            this.run(
              this.ledger.apply(
                e.gangId,
                { kind: 'pods', token: e.token, presence: undefined },
                this.m(),
              ),
            );
          break;
        case 'answer':
          break;
        case 'gaveUp':
          // The world finishes the create it was doing; the ledger deletes what it made.
          break;
      }
    }
  }

  /** Members of one gang that are up: at most one token at a time. */
  checkOneToken(): void {
    const byGang = new Map<string, number[]>();
    for (const w of this.members.values())
      byGang.set(w.gangId, [...(byGang.get(w.gangId) ?? []), w.token]);
    for (const [g, tokens] of byGang)
      if (tokens.length > 1)
        this.violations.push(`[token] gang ${g} has members of tokens ${tokens.join(',')}`);
  }

  apply(c: Cmd): void {
    switch (c.k) {
      case 'dispatch': {
        this.hubMessage();
        const g = `g${c.g}`;
        const key = `${g}#${c.t}`;
        const p = plan(c.size, c.policy);
        if (!this.plans.has(key)) this.plans.set(key, p);
        const used = this.plans.get(key)!;
        this.run(
          this.ledger.apply(g, { kind: 'dispatch', token: c.t, jobId: 'j', plan: used }, this.m()),
        );
        break;
      }
      case 'cancel':
        this.hubMessage();
        this.run(this.ledger.apply(`g${c.g}`, { kind: 'cancel', token: c.t }, this.m()));
        break;
      case 'list': {
        this.hubMessage();
        const gangs = c.gangs.map(([g, t]) => ({ gangId: `g${g}`, fencingToken: t }));
        const applied = this.ledger.applyList(c.gen, gangs, this.m());
        if (!applied) break;
        this.run(applied);
        // Every gang up in the cluster is on the list with its token.
        const listed = new Map(gangs.map((g) => [g.gangId, g.fencingToken]));
        for (const w of this.members.values())
          if (listed.get(w.gangId) !== w.token)
            this.violations.push(`[list] ${w.gangId}#${w.token} survived a list without it`);
        for (const r of this.ledger.records())
          if (
            (r.stage === 'creating' || r.stage === 'ungating') &&
            listed.get(r.gangId) !== r.token &&
            !r.abandon
          )
            this.violations.push(
              `[list] ${r.gangId}#${r.token} still materialising after a list without it`,
            );
        break;
      }
      case 'createDone': {
        if (this.creating.length === 0) break;
        const key = this.creating.splice(c.pick % this.creating.length, 1)[0]!;
        const [g, t] = [key.slice(0, key.indexOf('#')), Number(key.slice(key.indexOf('#') + 1))];
        const r = this.ledger.record(g, t);
        // What materialise does: it asks before every create whether to stop, and rolls back.
        const stop = stopReason(r, this.m());
        if (c.fail || stop) {
          const failed: Outcome = {
            outcome: REJECTED,
            reason: stop ?? 'CreateFailed',
            message: 'x',
          };
          this.run(this.ledger.apply(g, { kind: 'created', token: t, failed }, this.m()));
          break;
        }
        const p = this.plans.get(key)!;
        this.members.set(key, {
          gangId: g,
          token: t,
          size: p.size,
          ungated: false,
          bound: false,
          policy: p.onClusterLost,
        });
        this.run(
          this.ledger.apply(
            g,
            { kind: 'pods', token: t, presence: this.presenceOf(key) },
            this.m(),
          ),
        );
        this.run(this.ledger.apply(g, { kind: 'created', token: t }, this.m()));
        break;
      }
      case 'ungateDone': {
        if (this.ungating.length === 0) break;
        const key = this.ungating.splice(c.pick % this.ungating.length, 1)[0]!;
        const [g, t] = [key.slice(0, key.indexOf('#')), Number(key.slice(key.indexOf('#') + 1))];
        const stop = stopReason(this.ledger.record(g, t), this.m());
        if (c.fail || stop) {
          // The rollback deletes every member.
          if (this.members.delete(key))
            this.run(
              this.ledger.apply(g, { kind: 'pods', token: t, presence: undefined }, this.m()),
            );
          const failed: Outcome = {
            outcome: REJECTED,
            reason: stop ?? 'UngateFailed',
            message: 'x',
          };
          this.run(this.ledger.apply(g, { kind: 'ungated', token: t, outcome: failed }, this.m()));
          break;
        }
        this.run(this.ledger.apply(g, { kind: 'ungated', token: t, outcome: ok }, this.m()));
        break;
      }
      case 'bind': {
        const up = [...this.members.entries()].filter(([, w]) => w.ungated && !w.bound);
        if (up.length === 0) break;
        const [key, w] = up[c.pick % up.length]!;
        w.bound = true;
        this.run(
          this.ledger.apply(
            w.gangId,
            { kind: 'pods', token: w.token, presence: this.presenceOf(key) },
            this.m(),
          ),
        );
        break;
      }
      case 'advance':
        this.now += c.ms;
        break;
      case 'tick':
        this.run(this.ledger.applyAll({ kind: 'tick' }, this.m()));
        // Once the lease has lapsed, no `requeue` gang is left up.
        if (this.lapsed())
          for (const [key, w] of this.members)
            if (w.policy === 'requeue')
              this.violations.push(`[lease] requeue gang ${key} up under a lapsed lease`);
        break;
    }
    this.checkOneToken();
  }
}

describe('Ledger (properties over random event orders)', () => {
  /** The violations of one kind met while running the commands (all of them are kept). */
  const violations = (cmds: Cmd[], tag: string) => {
    const w = new World();
    for (const c of cmds) w.apply(c);
    return w.violations.filter((v) => v.startsWith(`[${tag}]`));
  };
  const holds = (tag: string) =>
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 80, size: 'max' }), (cmds) => {
        expect(violations(cmds, tag)).toEqual([]);
      }),
      { numRuns: 2_000 },
    );

  it('never ungates a partial gang', () => holds('partial'));

  it('keeps at most one live token per gang: the older one goes when a newer one is created', () =>
    holds('token'));

  it('self-fences a requeue gang once the lease lapses, and creates or ungates nothing under it', () =>
    holds('lease'));

  it('deletes every gang an applied authoritative list does not name with its token', () =>
    holds('list'));
});
