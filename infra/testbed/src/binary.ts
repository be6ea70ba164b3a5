// Builds Go programs once and caches them as <module>/bin/<name>-<hash>, keyed by a hash of the Go
// sources, go.mod, go.sum, the Go version and the build flags: the testbed's cluster program
// (cmd/testbed-cluster) and any other module the tests run (e.g. infra/interop/kueue).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** infra/testbed (this file lives in src/ or dist/). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');
const GO_FILE_RE = /\.(go|yaml|yml)$/;

/**
 * The Kubernetes release the testbed's module pins (go.mod: k8s.io/kubernetes). `go build` of a
 * module leaves Kubernetes' version variables at their placeholders
 * (`v0.0.0-master+$Format:%H$`), which clients that check the server version (Kueue) refuse, so the
 * build sets them as Kubernetes' own build does (hack/lib/version.sh).
 */
export const KUBERNETES_VERSION = { gitVersion: 'v1.36.1', gitMajor: '1', gitMinor: '36' };

/** `-X` flags for both packages Kubernetes' build stamps (the server's and client-go's version). */
function kubernetesVersionLdflags(v = KUBERNETES_VERSION): string {
  const vars = { ...v, gitTreeState: 'clean' };
  return ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((pkg) => Object.entries(vars).map(([k, val]) => `-X ${pkg}.${k}=${val}`))
    .join(' ');
}

/** One Go program built from a module directory. */
export interface GoProgram {
  /** File name prefix of the cached binary (`<name>-<hash>`). */
  name: string;
  /** Directory holding go.mod. */
  moduleDir: string;
  /** Package to build, relative to the module, e.g. `./cmd/testbed-cluster`. */
  pkg: string;
  /** Value of `go build -ldflags`; part of the hash. Default none. */
  ldflags?: string;
  /** Environment variable naming a prebuilt binary that replaces the build. Default none. */
  overrideEnv?: string;
  /** What a cold build costs, for the log line (e.g. `~15 min on 2 cores`). */
  coldBuild?: string;
}

/** The testbed's cluster program: Kubernetes + etcd + kwok in one process. */
export const TESTBED_CLUSTER: GoProgram = {
  name: 'testbed-cluster',
  moduleDir: PACKAGE_ROOT,
  pkg: './cmd/testbed-cluster',
  ldflags: kubernetesVersionLdflags(),
  overrideEnv: 'MUSTER_TESTBED_BIN',
  coldBuild: '~15 min on 2 cores',
};

export interface EnsureBinaryOptions {
  /** Directory holding go.mod; default the program's (infra/testbed for the testbed). */
  moduleDir?: string;
  /** Cache directory; default <moduleDir>/bin. */
  binDir?: string;
  /** Go command; default $GO, else `go` on PATH, else /usr/local/go/bin/go. */
  go?: string;
  /** Called with progress messages (build start/end). Default: write to stderr. */
  log?: (msg: string) => void;
}

/** The Go command: `explicit`, else $GO, else `go` on PATH, else /usr/local/go/bin/go. */
export function findGo(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.GO) return process.env.GO;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  if (fs.existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('testbed: the Go toolchain was not found (set $GO or put go on PATH)');
}

function listSources(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) {
      if (
        ['bin', 'node_modules', 'dist', 'src', 'tests', 'examples'].includes(e.name) &&
        rel === ''
      )
        continue;
      if (e.name.startsWith('.')) continue;
      out.push(...listSources(dir, r));
    } else if (GO_FILE_RE.test(e.name) && rel !== '') {
      out.push(r);
    }
  }
  return out;
}

/**
 * Hash of everything that determines the binary: Go sources (+ embedded YAML), go.mod, go.sum, Go
 * version, and the package and -ldflags built (`build`; default the testbed's).
 */
export function sourceHash(
  moduleDir = PACKAGE_ROOT,
  goCmd?: string,
  build: Pick<GoProgram, 'pkg' | 'ldflags'> = TESTBED_CLUSTER,
): string {
  const h = createHash('sha256');
  h.update(`pkg=${build.pkg}\0ldflags=${build.ldflags ?? ''}\0`);
  const files = ['go.mod', 'go.sum', ...listSources(moduleDir).sort()];
  for (const f of files) {
    h.update(f + '\0');
    h.update(fs.readFileSync(path.join(moduleDir, f)));
    h.update('\0');
  }
  const goVersion = execFileSync(findGo(goCmd), ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  h.update(goVersion);
  return h.digest('hex').slice(0, 16);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes an exclusive lock file; steals it when its owner process is gone. */
async function acquireLock(lockFile: string, onWait: () => void): Promise<() => void> {
  let warned = false;
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => {
        try {
          if (fs.readFileSync(lockFile, 'utf8') === String(process.pid)) fs.unlinkSync(lockFile);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number(fs.readFileSync(lockFile, 'utf8'));
    } catch {
      continue; // released between our open and read
    }
    if (!Number.isInteger(owner) || owner <= 0 || !pidAlive(owner)) {
      // Stale lock from a crashed builder (or a half-written one): remove it and retry.
      try {
        const st = fs.statSync(lockFile);
        if (Number.isInteger(owner) && owner > 0) fs.unlinkSync(lockFile);
        else if (Date.now() - st.mtimeMs > 5000) fs.unlinkSync(lockFile);
      } catch {
        /* raced with someone else */
      }
      continue;
    }
    if (!warned) {
      onWait();
      warned = true;
    }
    await sleep(500);
  }
}

/** Returns the path of an up-to-date testbed-cluster binary (see ensureGoBinary). */
export function ensureBinary(opts: EnsureBinaryOptions = {}): Promise<string> {
  return ensureGoBinary(TESTBED_CLUSTER, opts);
}

/**
 * Returns the path of an up-to-date binary of `program`, building it when its sources changed.
 * `program.overrideEnv` (e.g. $MUSTER_TESTBED_BIN) names a prebuilt binary that replaces all this.
 * Concurrent callers (other test runs) wait on a lock file; the build goes to a temp file that is
 * renamed into place, so nobody ever sees a half-written binary.
 */
export async function ensureGoBinary(
  program: GoProgram,
  opts: EnsureBinaryOptions = {},
): Promise<string> {
  const override = program.overrideEnv ? process.env[program.overrideEnv] : undefined;
  if (override) return override;
  const moduleDir = opts.moduleDir ?? program.moduleDir;
  const binDir = opts.binDir ?? path.join(moduleDir, 'bin');
  const log = opts.log ?? ((m: string) => process.stderr.write(`[testbed] ${m}\n`));
  const go = findGo(opts.go);
  const hash = sourceHash(moduleDir, go, program);
  const target = path.join(binDir, `${program.name}-${hash}`);
  if (fs.existsSync(target)) return target;

  fs.mkdirSync(binDir, { recursive: true });
  const release = await acquireLock(path.join(binDir, '.build.lock'), () =>
    log(`waiting for another process building ${path.basename(target)}`),
  );
  try {
    if (fs.existsSync(target)) return target;
    const tmp = path.join(binDir, `.tmp-${process.pid}-${Date.now()}`);
    const logFile = path.join(binDir, `build-${program.name}.log`);
    const started = Date.now();
    const cost = program.coldBuild ? `; a cold build takes ${program.coldBuild}` : '';
    log(`building ${path.basename(target)} (go build -trimpath${cost}, log: ${logFile})`);
    const out = fs.openSync(logFile, 'w');
    const code = await new Promise<number>((resolve, reject) => {
      const args = ['build', '-mod=mod', '-buildvcs=false', '-trimpath'];
      if (program.ldflags) args.push('-ldflags', program.ldflags);
      args.push('-o', tmp, program.pkg);
      const child = spawn(go, args, { cwd: moduleDir, stdio: ['ignore', out, out] });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c ?? 1));
    });
    fs.closeSync(out);
    if (code !== 0) {
      fs.rmSync(tmp, { force: true });
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`testbed: go build of ${program.pkg} failed (exit ${code}):\n${tail}`);
    }
    fs.renameSync(tmp, target);
    log(`built ${path.basename(target)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    pruneOldBinaries(binDir, program.name, target);
    return target;
  } finally {
    release();
  }
}

/** Removes binaries of older source versions that nobody touched for an hour. */
function pruneOldBinaries(binDir: string, name: string, keep: string): void {
  for (const f of fs.readdirSync(binDir)) {
    const p = path.join(binDir, f);
    if (p === keep) continue;
    if (!f.startsWith(`${name}-`) && !f.startsWith('.tmp-')) continue;
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { force: true });
    } catch {
      /* ignore */
    }
  }
}
