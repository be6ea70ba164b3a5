import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { createLog, REDACTED, type LogLevel } from './log';

function capture(level: LogLevel = 'debug') {
  const out: string[] = [];
  const log = createLog({ level, destination: { write: (s: string) => void out.push(s) } });
  const lines = () => out.map((s) => JSON.parse(s) as Record<string, unknown>);
  return { log, out, lines };
}

describe('createLog', () => {
  it('writes one JSON object per line: an ISO time, a level label, the message and the fields', () => {
    const { log, out, lines } = capture();
    log.info('gang dispatched', { gang: 'g-1', cluster: 'w1', token: 3, skipped: undefined });
    expect(out).toHaveLength(1);
    expect(out[0]!.endsWith('\n')).toBe(true);
    expect(out[0]!.slice(0, -1)).not.toContain('\n');
    const [line] = lines();
    expect(line).toEqual({
      time: expect.any(String),
      level: 'info',
      msg: 'gang dispatched',
      gang: 'g-1',
      cluster: 'w1',
      token: 3,
    });
    expect(new Date(line!.time as string).toISOString()).toBe(line!.time);
  });

  it('drops lines below its level', () => {
    const { log, lines } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines().map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'w'],
      ['error', 'e'],
    ]);
  });

  it('binds fields to a child, and a child of a child keeps both', () => {
    const { log, lines } = capture();
    const dispatch = log.child({ component: 'dispatch' });
    dispatch.child({ gang: 'g-1', job: 'j-1' }).info('reserved', { cluster: 'w1' });
    dispatch.info('cycle done');
    log.info('plain');
    expect(lines()).toEqual([
      expect.objectContaining({
        component: 'dispatch',
        gang: 'g-1',
        job: 'j-1',
        cluster: 'w1',
        msg: 'reserved',
      }),
      expect.objectContaining({ component: 'dispatch', msg: 'cycle done' }),
      expect.not.objectContaining({ component: expect.anything() }),
    ]);
  });

  it('writes an error under err with its type, message and stack', () => {
    const { log, lines } = capture();
    class KubeError extends Error {
      override name = 'KubeError';
      code = 409;
    }
    log.error('create failed', { err: new KubeError('conflict') });
    log.warn('odd value thrown', { err: 'just a string' });
    const [kube, text] = lines();
    expect(kube!.err).toMatchObject({ type: 'KubeError', message: 'conflict', code: 409 });
    expect((kube!.err as { stack: string }).stack).toMatch(/^KubeError: conflict\n\s+at /);
    expect(text!.err).toBe('just a string');
  });

  it('censors credentials wherever they sit, but keeps the fencing token', () => {
    const { log, out, lines } = capture();
    log.child({ password: 'bound-pw' }).info('request', {
      token: 7,
      authorization: 'Bearer top-level',
      headers: { authorization: 'Bearer nested', cookie: 'c=1' },
      oidc: { client: { clientSecret: 'deep' } },
      issued: { token: 'a-bearer-token' },
      err: Object.assign(new Error('refused'), {
        response: { headers: { Authorization: 'Basic dXNlcjpwYXNz' } },
      }),
      secret: 's',
    });
    log.info('a credential under the fencing token name', { token: 'string-token' });
    const text = out.join('');
    for (const s of [
      'bound-pw',
      'top-level',
      'nested',
      'c=1',
      'deep',
      'a-bearer-token',
      'string-token',
      'dXNlcjpwYXNz',
    ])
      expect(text).not.toContain(s);
    const [request, named] = lines();
    expect(request).toMatchObject({
      token: 7,
      password: REDACTED,
      authorization: REDACTED,
      headers: { authorization: REDACTED, cookie: REDACTED },
      oidc: { client: { clientSecret: REDACTED } },
      issued: { token: REDACTED },
      err: { message: 'refused', response: { headers: { Authorization: REDACTED } } },
      secret: REDACTED,
    });
    expect(named!.token).toBe(REDACTED);
  });

  it('cuts a bearer token out of any text, and leaves prose about bearer tokens alone', () => {
    const { log, out, lines } = capture();
    const credential = 'adm-2f6c1a0e-9b1d-4c4e-8f7a-0d9e6b5c4a31';
    log.warn(`upstream answered to Bearer ${credential}`, {
      err: new Error(`header "authorization: Bearer ${credential}" refused`),
      note: `bearer\t${credential}`,
    });
    log.info('bearer token refused', { peer: 'ipv4:10.0.0.1:5000' });
    expect(out.join('')).not.toContain(credential);
    const [quoted, prose] = lines();
    expect(quoted!.msg).toBe(`upstream answered to Bearer ${REDACTED}`);
    expect((quoted!.err as { message: string }).message).toBe(
      `header "authorization: Bearer ${REDACTED}" refused`,
    );
    expect(prose!.msg).toBe('bearer token refused');
  });
});

describe('createLog on stdout', () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    // The logger as the processes run it: compiled, in a process of its own, on a real pipe.
    dir = mkdtempSync(join(tmpdir(), 'muster-log-'));
    const source = readFileSync(join(__dirname, 'log.ts'), 'utf8');
    const compiled = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    writeFileSync(join(dir, 'log.js'), compiled.outputText);
    script = join(dir, 'run.js');
    writeFileSync(
      script,
      [
        `const { createLog } = require('./log.js');`,
        `const log = createLog({ level: 'info' });`,
        `for (let i = 0; i < 20000; i++) log.info('line', { i, pad: 'x'.repeat(100) });`,
        `log.error('last words');`,
        `if (process.argv[2] === 'exit') process.exit(3);`,
        `if (process.argv[2] === 'kill') process.kill(process.pid, 'SIGKILL');`,
        `throw new Error('crash');`,
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (how: string) =>
    new Promise<{ code: number | string | null; lines: string[] }>((resolve) => {
      execFile(
        process.execPath,
        [script, how],
        {
          env: { ...process.env, NODE_PATH: join(__dirname, '../../../../node_modules') },
          maxBuffer: 64 * 1024 * 1024,
        },
        (err, stdout) =>
          resolve({
            code: err ? ((err as { code?: number | null }).code ?? null) : 0,
            lines: stdout.split('\n').filter((l) => l !== ''),
          }),
      );
    });

  // SIGKILL (an OOM kill) runs no exit handler: only a line already written survives it.
  it.each([
    ['exit', 3],
    ['crash', 1],
    ['kill', null],
  ])('loses no line when the process ends at once (%s)', async (how, status) => {
    const { code, lines } = await run(how);
    expect(code).toBe(status);
    expect(lines).toHaveLength(20001);
    expect(JSON.parse(lines[19999]!)).toMatchObject({ i: 19999 });
    expect(JSON.parse(lines[20000]!)).toMatchObject({ level: 'error', msg: 'last words' });
  });
});
