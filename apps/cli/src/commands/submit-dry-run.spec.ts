// `muster submit -f SAMPLE --dry-run` for the operator kinds, through the CLI as a user runs it:
// the gang it prints, the warnings on stderr, and a refusal's exit code.
import { join } from 'node:path';
import { runCapturing } from '../testing/run-cli';

const run = (argv: string[]) => runCapturing(argv);

const testdata = (file: string) => join(__dirname, '../../../../libs/manifests/src/testdata', file);

describe('muster submit --dry-run of the operator kinds', () => {
  it('prints a PyTorchJob as one gang of a master and its workers', async () => {
    const file = testdata('sample-pytorchjob.yaml');
    expect(await run(['submit', '-f', file, '--dry-run'])).toEqual({
      code: 0,
      stdout: [
        `${file}: PyTorchJob → job "pytorch-simple" in queue main, 3 members`,
        '  master × 1  (each cpu 1, memory 200Mi)',
        '  worker × 2  (each cpu 2, memory 1Gi)',
        '',
      ].join('\n'),
      stderr: [
        `warning: ${file}: line 4: kind: Muster runs the pod templates as they are, without the Training Operator: the pods get no MASTER_ADDR, WORLD_SIZE, RANK, TF_CONFIG or other rendezvous variables and no Services, so the program must find its peers itself`,
        'dry run: nothing was submitted',
        '',
      ].join('\n'),
    });
  });

  it('prints a RayJob with its head, worker group and submitter, and sends the pod sets as JSON', async () => {
    const file = testdata('sample-rayjob.yaml');
    const r = await run(['submit', '-f', file, '--dry-run', '--queue', 'research']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        `${file}: RayJob → job "rayjob-sample" in queue research, 3 members`,
        '  head × 1  (each cpu 1, memory 2Gi)',
        '  small-group × 1  (each cpu 200m)',
        '  submitter × 1  (each cpu 500m, memory 200Mi)',
        '',
      ].join('\n'),
    );
    expect(r.stderr.split('\n').filter((l) => l.startsWith('warning: '))).toHaveLength(3);
    const json = JSON.parse((await run(['submit', '-f', file, '--dry-run', '-o', 'json'])).stdout);
    expect(json.podSets.map((p: { name: string; count: number }) => [p.name, p.count])).toEqual([
      ['head', 1],
      ['small-group', 1],
      ['submitter', 1],
    ]);
  });

  it('prints a LeaderWorkerSet as leaders and workers', async () => {
    const file = testdata('sample-leaderworkerset.yaml');
    const r = await run(['submit', '-f', file, '--dry-run']);
    expect(r.stdout).toBe(
      [
        `${file}: LeaderWorkerSet → job "nginx-leaderworkerset" in queue user-queue, 6 members`,
        '  leader × 2  (each cpu 100m)',
        '  worker × 4  (each cpu 200m)',
        '',
      ].join('\n'),
    );
  });

  it('refuses a TrainJob with exit code 2, naming spec.runtimeRef and its line', async () => {
    const file = testdata('sample-trainjob.yaml');
    const r = await run(['submit', '-f', file, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: ${file.replace(/[.]/g, '\\.')}: line 9: spec\\.runtimeRef: a TrainJob's pods come from the runtime it names "torch-distributed"`,
      ),
    );
  });
});
