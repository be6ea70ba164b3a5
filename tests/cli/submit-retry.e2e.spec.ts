// `muster submit` rides out a hub restart: it retries with the same client request id, says so
// on stderr, and the hub creates the job exactly once.
import { join } from 'node:path';
import { freePort, HubProcess } from '../support/hub-process';
import {
  createTestDatabase,
  createTestRedis,
  type TestDatabase,
  type TestRedis,
} from '../support/services';
import { CliSandbox, EXAMPLES } from './support/cli-process';

let db: TestDatabase;
let redis: TestRedis;
let hub: HubProcess | undefined;
let port: number;

async function startHub(): Promise<HubProcess> {
  return HubProcess.start({ databaseUrl: db.url, redisPrefix: redis.prefix, grpcPort: port });
}

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await createTestRedis();
  port = await freePort();
  hub = await startHub();
  const api = hub.connect();
  await api.inventory.createQueue({
    queue: { name: 'default', description: '', weight: 1, allowedNamespaces: [] },
  });
  api.close();
});

afterAll(async () => {
  const end = await hub?.stop();
  await redis?.cleanup();
  await db?.drop();
  expect(end).toBe(0);
});

it('a submit sent while the hub restarts is retried and creates the job once', async () => {
  expect(await hub!.stop()).toBe(0);
  hub = undefined;
  const cli = new CliSandbox(`127.0.0.1:${port}`);
  const submit = cli.start(['submit', '-f', join(EXAMPLES, 'job.yaml')]);
  await new Promise((r) => setTimeout(r, 3000)); // the hub is down for a while
  hub = await startHub();
  const r = await submit.exited;
  expect(r.stderr).toMatch(
    /job\.yaml: the hub at 127\.0\.0\.1:\d+ is unreachable; retrying the submit in \d+\.\ds \(try 2 of \d+, same request id: it is created at most once\)/,
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /^job [0-9a-f-]{36} submitted: resnet-train to queue default, 4 members\n$/,
  );
  const rows = await db.query<{ n: string }>('SELECT count(*) AS n FROM jobs');
  expect(Number(rows[0]!.n)).toBe(1);
});
