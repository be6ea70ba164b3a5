#!/usr/bin/env node
// Issues Muster's certificates with the openssl CLI: a CA, the hub's server certificate and one
// client certificate per worker cluster (its identity: SAN URI muster://cluster/<name>).
//
//   node infra/pki/issue.mjs --out DIR [--cluster NAME]... [--hub-name NAME]... [--days N]
//
// An existing DIR/ca.key is reused, so clusters can be added later. See infra/pki/README.md.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

const USAGE = `usage: node infra/pki/issue.mjs --out DIR [--cluster NAME]... [--hub-name NAME]... [--days N]
  --out DIR         where to write (created; an existing ca.key there is reused)
  --cluster NAME    issue DIR/agents/NAME.crt and .key for that cluster (repeatable)
  --hub-name NAME   DNS name or IP address the hub is reached at (repeatable;
                    default localhost and 127.0.0.1)
  --days N          validity of new certificates (default 365; the CA: 10 times that)
  --ca-name TEXT    common name of a new CA (default "Muster CA")
  --no-hub          do not (re)issue the hub certificate`;

function parseArgs(argv) {
  const args = {
    out: undefined,
    clusters: [],
    hubNames: [],
    days: 365,
    caName: 'Muster CA',
    hub: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    if (flag === '--out') args.out = value();
    else if (flag === '--cluster') args.clusters.push(value());
    else if (flag === '--hub-name') args.hubNames.push(value());
    else if (flag === '--days') args.days = Number(value());
    else if (flag === '--ca-name') args.caName = value();
    else if (flag === '--no-hub') args.hub = false;
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${flag}`);
  }
  if (!args.out) fail('--out is required');
  if (!Number.isInteger(args.days) || args.days < 1) fail('--days must be a whole number of days');
  for (const c of args.clusters) {
    if (c.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(c))
      fail(`--cluster ${c}: must be a DNS-1123 label (the cluster's name at the hub)`);
  }
  if (args.hubNames.length === 0) args.hubNames = ['localhost', '127.0.0.1'];
  return args;
}

function fail(message) {
  console.error(`issue.mjs: ${message}\n${USAGE}`);
  process.exit(2);
}

function openssl(args) {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    console.error(`issue.mjs: openssl ${args[0]} failed: ${err.stderr?.toString() ?? err.message}`);
    process.exit(1);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const isIp = (name) => /^[0-9.]+$/.test(name) || name.includes(':');

function issueCa(dir, caName, days) {
  const key = join(dir, 'ca.key');
  const crt = join(dir, 'ca.crt');
  if (existsSync(key) && existsSync(crt)) return { key, crt, reused: true };
  openssl([
    'req',
    '-x509',
    '-new',
    ...EC_KEY,
    '-keyout',
    key,
    '-out',
    crt,
    '-days',
    String(days * 10),
    '-subj',
    `/CN=${caName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(key, 0o600);
  return { key, crt, reused: false };
}

function issueLeaf(ca, dir, name, subject, extensions, days) {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${extensions.join('\n')}\n`);
  openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', subject]);
  chmodSync(key, 0o600);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.crt,
    '-CAkey',
    ca.key,
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    String(days),
    '-sha256',
    '-extfile',
    ext,
    '-out',
    crt,
  ]);
  rmSync(csr);
  rmSync(ext);
  return { key, crt };
}

const args = parseArgs(process.argv.slice(2));
const out = resolve(args.out);
mkdirSync(join(out, 'agents'), { recursive: true, mode: 0o700 });
const ca = issueCa(out, args.caName, args.days);
console.log(`${ca.reused ? 'reused' : 'issued'} CA        ${ca.crt}`);
if (args.hub) {
  const san = args.hubNames.map((n) => (isIp(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const hub = issueLeaf(
    ca,
    out,
    'hub',
    `/CN=${args.hubNames[0]}`,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${san}`,
    ],
    args.days,
  );
  console.log(`issued hub       ${hub.crt} (${san})`);
}
for (const cluster of args.clusters) {
  const agent = issueLeaf(
    ca,
    join(out, 'agents'),
    cluster,
    `/CN=muster-agent-${cluster}`,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=clientAuth',
      `subjectAltName=URI:muster://cluster/${cluster}`,
    ],
    args.days,
  );
  console.log(`issued agent     ${agent.crt} (muster://cluster/${cluster})`);
}
