#!/usr/bin/env node
// Writes the Nx project graph and fails if a library depends on an application: apps are built
// from libs, never the reverse.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

mkdirSync('.muster', { recursive: true });
execFileSync('npx', ['--no-install', 'nx', 'graph', '--file=.muster/graph.json'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, NX_DAEMON: 'false' },
});
const { graph } = JSON.parse(readFileSync('.muster/graph.json', 'utf8'));
const typeOf = (name) => graph.nodes[name]?.type;
const wrong = [];
for (const [source, deps] of Object.entries(graph.dependencies)) {
  for (const d of deps) {
    if (typeOf(source) === 'lib' && typeOf(d.target) === 'app')
      wrong.push(`${source} -> ${d.target}`);
  }
}
if (wrong.length > 0) {
  console.error(`libraries must not depend on applications: ${wrong.join(', ')}`);
  process.exit(1);
}
const edges = Object.entries(graph.dependencies).flatMap(([s, deps]) =>
  deps.map((d) => `${s}->${d.target}`),
);
console.log(
  `project graph ok: ${Object.keys(graph.nodes).length} projects, ${edges.length} edges, no lib depends on an app`,
);
