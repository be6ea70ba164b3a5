import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../cli';
import { CliContext } from '../commands/cli-context';
import { STATE_CHOICES } from '../output/job-states';
import { completionTree } from './command-tree';
import { bashScript, zshScript } from './shell-scripts';

const program = buildProgram(
  new CliContext({
    stdout: { write: () => true },
    stderr: { write: () => true },
    env: {},
    now: () => new Date(),
    readStdin: () => '',
  }),
);
const tree = completionTree(program, { '--state': STATE_CHOICES });

describe('the completion tree', () => {
  it('holds every command, subcommand and flag of the CLI', () => {
    const node = (path: string) => tree.nodes.find((n) => n.path.join(' ') === path);
    expect(node('')!.subcommands).toEqual(
      expect.arrayContaining([
        'submit',
        'get',
        'list',
        'watch',
        'explain',
        'cancel',
        'clusters',
        'queues',
        'cohorts',
        'config',
        'completion',
      ]),
    );
    expect(node('clusters')!.subcommands).toEqual([
      'list',
      'get',
      'register',
      'cordon',
      'drain',
      'uncordon',
      'fence',
      'deregister',
    ]);
    expect(node('clusters register')!.flags).toEqual(
      expect.arrayContaining([
        '--topology-level',
        '--label',
        '--server',
        '--ca-file',
        '--hub',
        '--help',
      ]),
    );
    expect(node('submit')!.flags).toEqual(
      expect.arrayContaining([
        '-f',
        '--filename',
        '--wait',
        '--on-cluster-lost',
        '--priority-class',
        '-o',
        '--output',
      ]),
    );
    expect(node('queues create')!.flags).toEqual(expect.arrayContaining(['--max-priority']));
    expect(node('queues create')!.flags).not.toContain('--no-max-priority');
    expect(node('queues update')!.flags).toEqual(
      expect.arrayContaining(['--max-priority', '--no-max-priority']),
    );
    expect(node('cohorts')!.subcommands).toEqual(['list', 'get', 'create', 'update', 'delete']);
    expect(node('cohorts update')!.flags).toEqual(
      expect.arrayContaining([
        '--parent',
        '--no-parent',
        '--quota',
        '--no-quota',
        '--lending-limit',
      ]),
    );
    expect(node('cohorts create')!.flags).not.toContain('--no-parent');
    expect(node('get')!.choices['-o']).toEqual(['table', 'json', 'yaml']);
    expect(node('config view')!.choices['-o']).toEqual(['yaml', 'json']);
    expect(node('submit')!.choices['--on-cluster-lost']).toEqual(['wait', 'requeue']);
    expect(node('list')!.choices['--state']).toEqual(STATE_CHOICES);
    expect(tree.fileFlags).toEqual(expect.arrayContaining(['-f', '--filename', '--ca-file']));
  });
});

describe('the bash script', () => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-completion-'));
  const script = join(dir, 'muster.bash');
  writeFileSync(script, bashScript(tree));

  /** What bash offers after the typed words (the last one being completed). */
  function complete(...words: string[]): string[] {
    const all = ['muster', ...words];
    const driver = [
      `source ${JSON.stringify(script)}`,
      `COMP_WORDS=(${all.map((w) => JSON.stringify(w)).join(' ')})`,
      `COMP_CWORD=${all.length - 1}`,
      '_muster',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    return execFileSync('bash', ['-c', driver], { encoding: 'utf8' }).split('\n').filter(Boolean);
  }

  it('is valid bash', () => {
    expect(() => execFileSync('bash', ['-n', script])).not.toThrow();
  });

  it('completes commands, subcommands, flags and flag values', () => {
    expect(complete('cl')).toEqual(['clusters']);
    expect(complete('clusters', 'c')).toEqual(['cordon']);
    expect(complete('clusters', 'drain', 'gpu', '--g')).toEqual(['--grace']);
    expect(complete('clusters', 'register', 'gpu', '--topo')).toEqual(['--topology-level']);
    expect(complete('--hub', 'h:1', 'queues', '')).toEqual(
      expect.arrayContaining(['list', 'create', 'delete']),
    );
    expect(complete('list', '--state', 'ru')).toEqual(['running']);
    expect(complete('get', 'x', '-o', '')).toEqual(['table', 'json', 'yaml']);
    expect(complete('config', 'view', '-o', '')).toEqual(['yaml', 'json']);
    expect(complete('submit', '--on-cluster-lost', '')).toEqual(['wait', 'requeue']);
  });

  it('completes file names after -f', () => {
    writeFileSync(join(dir, 'train-job.yaml'), 'kind: Job\n');
    expect(complete('submit', '-f', join(dir, 'train-'))).toEqual([join(dir, 'train-job.yaml')]);
  });
});

describe('the zsh script', () => {
  it('registers the completion function and keeps PATH intact (no variable named path)', () => {
    const text = zshScript(tree);
    expect(text.startsWith('#compdef muster\n')).toBe(true);
    expect(text).toContain('compdef _muster muster');
    expect(text).not.toMatch(/local path\b/);
  });
});
