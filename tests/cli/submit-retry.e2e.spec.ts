// `muster submit` rides out a hub restart: it retries with the same client request id, says so
// on stderr, and the hub creates the job exactly once.
import { join } from 'node:path';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { freePort } from '../support/hub-process';
import { CliSandbox, EXAMPLES } from './support/cli-process';

let env: HubEnvironment;
let port: number;

beforeAll(async () => {
  port = await freePort();
  env = await startHubEnvironment({ grpcPort: port, queues: ['default'] });
});

afterAll(() => env?.stop());

it('a submit sent while the hub restarts is retried and creates the job once', async () => {
  expect(await env.hub.stop()).toBe(0);
  const cli = new CliSandbox(`127.0.0.1:${port}`);
  const submit = cli.start(['submit', '-f', join(EXAMPLES, 'job.yaml')]);
  await new Promise((r) => setTimeout(r, 3000)); // the hub is down for a while
  await env.startHub();
  const r = await submit.exited;
  expect(r.stderr).toMatch(
    /job\.yaml: the hub at 127\.0\.0\.1:\d+ is unreachable; retrying the submit in \d+\.\ds \(try 2 of \d+, same request id: it is created at most once\)/,
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /^job [0-9a-f-]{36} submitted: resnet-train to queue default, 4 members\n$/,
  );
  const rows = await env.db.query<{ n: string }>('SELECT count(*) AS n FROM jobs');
  expect(Number(rows[0]!.n)).toBe(1);
});
