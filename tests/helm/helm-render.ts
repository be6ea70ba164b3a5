// Helm as the chart tests run it: infra/helm/render, a small program on Helm's own Go packages
// (chart loader, values and schema, template engine, linter), built once per source hash.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ensureGoBinary, type GoProgram } from '../../infra/testbed/src';
import { REPO_ROOT } from '../support/hub-process';

const run = promisify(execFile);

export const HELM_RENDER: GoProgram = {
  name: 'muster-helm-render',
  moduleDir: join(REPO_ROOT, 'infra/helm/render'),
  pkg: './cmd/muster-helm-render',
  overrideEnv: 'MUSTER_HELM_RENDER_BIN',
  coldBuild: '~3 min on 2 cores',
};

export const HUB_CHART = join(REPO_ROOT, 'infra/helm/muster-hub');
export const AGENT_CHART = join(REPO_ROOT, 'infra/helm/muster-agent');

export interface LintMessage {
  severity: 'info' | 'warning' | 'error';
  path: string;
  message: string;
}

/** A Kubernetes object as a chart renders it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface Rendered {
  lint: LintMessage[];
  /** Every object, in Helm's install order. */
  objects: KubeObject[];
  /** Set when the chart did not render (a schema violation, a `required` value). */
  error?: string;
}

export interface RenderOptions {
  release: string;
  namespace: string;
  /** Values files merged over the chart's values.yaml, later wins. */
  values?: string[];
}

/** Lints and renders `chart` as `helm lint` and `helm template` would. */
export async function render(chart: string, opts: RenderOptions): Promise<Rendered> {
  const bin = await ensureGoBinary(HELM_RENDER);
  const args = ['-release', opts.release, '-namespace', opts.namespace];
  for (const f of opts.values ?? []) args.push('-f', f);
  args.push(chart);
  // Exit 1 still prints the JSON (lint errors, a failed render).
  const stdout = await run(bin, args, { maxBuffer: 64 << 20 }).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? '',
  );
  const out = JSON.parse(stdout) as {
    lint: LintMessage[];
    manifests: { source: string; content: string }[];
    error?: string;
  };
  return {
    lint: out.lint,
    objects: out.manifests.map((m) => parse(m.content) as KubeObject),
    error: out.error,
  };
}

/** The lint messages of severity error, as text. */
export function lintErrors(r: Rendered): string[] {
  return r.lint.filter((m) => m.severity === 'error').map((m) => `${m.path}: ${m.message}`);
}
