#!/usr/bin/env node
// Entry point of the muster CLI (apps/cli/dist/main.js; `muster` once installed).
import { readFileSync } from 'node:fs';
import { runCli } from './cli';
import { ExitCode } from './exit-codes';

// Node ignores SIGPIPE and reports a closed pipe as an EPIPE error on the stream instead, which
// would end `muster --help | head` in a stack trace: stop quietly, as a Unix tool does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.BrokenPipe);
    throw err;
  });
}

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  now: () => new Date(),
  readStdin: () => readFileSync(0, 'utf8'),
}).then((code) => {
  // Exit once output is flushed: an open gRPC channel or timer must not keep a finished command alive.
  process.stdout.write('', () => process.exit(code));
});
