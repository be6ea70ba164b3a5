#!/usr/bin/env node
// Generates libs/api/src/gen from proto/ with buf + ts-proto. With --check, generates into a
// temporary folder and fails if the committed code differs (stale generated code breaks the build).
import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  mkdirSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'libs/api/src/gen');
const check = process.argv.includes('--check');
const buf = join(root, 'node_modules/.bin/buf');
const plugin = join(root, 'node_modules/.bin/protoc-gen-ts_proto');

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out.sort();
}

function generate(outDir) {
  const template = readFileSync(join(root, 'proto/buf.gen.yaml'), 'utf8')
    .replace('local: ../node_modules/.bin/protoc-gen-ts_proto', `local: ${plugin}`)
    .replace('out: ../libs/api/src/gen', `out: ${outDir}`);
  const templateFile = join(outDir, '..', 'buf.gen.yaml');
  writeFileSync(templateFile, template);
  execFileSync(buf, ['generate', '--template', templateFile], {
    cwd: join(root, 'proto'),
    stdio: 'inherit',
  });
  rmSync(templateFile);
  const header = '// Code generated from proto/ by `npm run proto:gen`. DO NOT EDIT.\n';
  for (const f of files(outDir)) writeFileSync(f, header + readFileSync(f, 'utf8'));
}

const work = mkdtempSync(join(tmpdir(), 'muster-proto-'));
const out = join(work, 'gen');
mkdirSync(out);
try {
  generate(out);
  if (check) {
    const want = files(out).map((f) => relative(out, f));
    const have = (() => {
      try {
        return files(target).map((f) => relative(target, f));
      } catch {
        return [];
      }
    })();
    const stale = [];
    for (const f of new Set([...want, ...have])) {
      let a = null;
      let b = null;
      try {
        a = readFileSync(join(out, f), 'utf8');
      } catch {
        a = null;
      }
      try {
        b = readFileSync(join(target, f), 'utf8');
      } catch {
        b = null;
      }
      if (a !== b) stale.push(f);
    }
    if (stale.length > 0) {
      console.error(
        `libs/api/src/gen is stale (${stale.join(', ')}): run \`npm run proto:gen\` and commit the result.`,
      );
      process.exit(1);
    }
    console.log('libs/api/src/gen is up to date with proto/.');
  } else {
    rmSync(target, { recursive: true, force: true });
    cpSync(out, target, { recursive: true });
    console.log(`generated ${files(target).length} files in libs/api/src/gen`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
