// One hub process on its own throwaway database and Redis prefix, with a client and the queues a
// suite needs, torn down in one call that fails the suite unless the hub ended cleanly.
import type { HubClientOptions, HubClients, Queue } from '@muster/api';
import { HubProcess, type HubEnd, type HubProcessOptions } from './hub-process';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from './services';

/** A queue by name (weight 1, no description, namespaces "default"), or with its fields given. */
export type QueueSpec = string | (Pick<Queue, 'name'> & Partial<Omit<Queue, 'name'>>);

export interface HubEnvironmentOptions extends Omit<
  HubProcessOptions,
  'databaseUrl' | 'redisPrefix'
> {
  /** The URL the hub reaches the test database at; default its own (a suite may add a proxy). */
  databaseUrl?: (db: TestDatabase) => string | Promise<string>;
  /** Queues created through `api` once the hub is up, in order. Default none. */
  queues?: QueueSpec[];
  /** How `api` connects (e.g. the token of an admin on a hub with authentication). */
  client?: { token?: string } & HubClientOptions;
}

export interface HubEnvironment {
  readonly db: TestDatabase;
  readonly redis: TestRedis;
  /** The hub started last: the first one, or the one startHub() put in place of it. */
  readonly hub: HubProcess;
  /** A client of `hub`, made anew by startHub(). */
  readonly api: HubClients;
  /**
   * Starts the hub again on the same database and Redis prefix with the same options (the same
   * gRPC port when one was fixed), once the last one has ended: stopped, killed or crashed. A
   * second replica beside a running hub is a HubProcess of the suite's own on `db` and `redis`.
   */
  startHub(): Promise<HubProcess>;
  /**
   * Closes `api`, stops the hub, deletes the Redis keys and drops the database, each even when
   * one before it failed; then expects the hub to have ended cleanly: it was still running, and
   * it exited 0 on SIGTERM. Safe to call more than once.
   */
  stop(): Promise<void>;
}

export async function startHubEnvironment(
  options: HubEnvironmentOptions = {},
): Promise<HubEnvironment> {
  const { databaseUrl, queues = [], client, ...hubOptions } = options;
  const db = await createTestDatabase();
  let redis: TestRedis | undefined;
  let hub: HubProcess | undefined;
  let api: HubClients | undefined;
  try {
    redis = await createTestRedis();
    const processOptions: HubProcessOptions = {
      ...hubOptions,
      databaseUrl: databaseUrl ? await databaseUrl(db) : db.url,
      redisPrefix: redis.prefix,
    };
    hub = await HubProcess.start(processOptions);
    api = hub.connect(client);
    for (const q of queues) {
      const queue = typeof q === 'string' ? { name: q } : q;
      await api.inventory.createQueue({
        queue: { description: '', weight: 1, allowedNamespaces: [], ...queue },
      });
    }
    return environment(db, redis, hub, api, processOptions, client);
  } catch (e) {
    await tearDown(db, redis, hub, api);
    throw e;
  }
}

/** Every step runs even when one before it failed; resolves to how the hub ended and what failed. */
async function tearDown(
  db: TestDatabase,
  redis: TestRedis | undefined,
  hub: HubProcess | undefined,
  api: HubClients | undefined,
): Promise<{ end: HubEnd | undefined; failures: unknown[] }> {
  const failures: unknown[] = [];
  const step = async (run: () => unknown): Promise<void> => {
    try {
      await run();
    } catch (e) {
      failures.push(e);
    }
  };
  let end: HubEnd | undefined;
  await step(() => api?.close());
  await step(async () => {
    if (!hub) return;
    end = hub.running
      ? await hub.stop()
      : `not running when the environment stopped (${await hub.whenExited()})`;
  });
  await step(() => redis?.cleanup());
  await step(() => db.drop());
  return { end, failures };
}

function environment(
  db: TestDatabase,
  redis: TestRedis,
  firstHub: HubProcess,
  firstApi: HubClients,
  processOptions: HubProcessOptions,
  client: HubEnvironmentOptions['client'],
): HubEnvironment {
  let hub = firstHub;
  let api = firstApi;
  let stopping: Promise<void> | undefined;

  async function stopOnce(): Promise<void> {
    const { end, failures } = await tearDown(db, redis, hub, api);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'the hub environment did not stop');
    expect(end).toBe(0);
  }

  return {
    db,
    redis,
    get hub() {
      return hub;
    },
    get api() {
      return api;
    },
    async startHub() {
      if (hub.running) throw new Error(`the hub (pid ${hub.pid}) is still running: end it first`);
      api.close();
      hub = await HubProcess.start(processOptions);
      api = hub.connect(client);
      return hub;
    },
    stop() {
      stopping ??= stopOnce();
      return stopping;
    },
  };
}
