#!/usr/bin/env node
// Entry point of the muster CLI (apps/cli/dist/main.js; `muster` once installed).
import { readFileSync } from 'node:fs';
import { runCli } from './cli';

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
