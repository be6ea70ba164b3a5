// muster submit -f FILE: Kubernetes Jobs, JobSets and Muster Gangs, one job per document, with
// the ResourceClaimTemplates their pods name.
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import { JobSpec, SubmitJobResponse, type Job } from '@muster/api';
import { status } from '@grpc/grpc-js';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { HubCallError } from '../hub/hub-errors';
import { SUBMIT_RETRY } from '../hub/retry';
import type { HubConnection } from '../hub/hub-connection';
import { present } from '../hub/present';
import {
  draftsFromDocuments,
  ON_CLUSTER_LOST_CHOICES,
  parseOnClusterLost,
  readManifestFile,
  type JobDraft,
  type Submission,
  type SubmitOverrides,
} from '@muster/manifests';
import { outcomeExitCode } from '../output/job-states';
import { renderOneOfMany, type OutputFormat } from '../output/output-format';
import { jobDeviceConstraint, podSetClaimLines } from '../output/claim-views';
import { podSetLine } from '../output/job-views';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { collect, integerFlag, ON_CLUSTER_LOST_HELP } from './flag-parsers';
import { followToEnd } from './job-follower';

interface SubmitFlags {
  filename: string[];
  queue?: string;
  priority?: number;
  priorityClass?: string;
  name?: string;
  onClusterLost?: string;
  maxRestarts?: number;
  wait?: boolean;
  dryRun?: boolean;
}

export function registerSubmitCommand(program: Command, ctx: CliContext): void {
  program
    .command('submit')
    .description(
      'submit jobs from YAML: a batch/v1 Job, a JobSet, a muster.dev/v1 Gang, a Kubeflow PyTorchJob, TFJob, JAXJob, PaddleJob, XGBoostJob or MPIJob, a KubeRay RayCluster or RayJob, or a LeaderWorkerSet (one job per document; resource.k8s.io/v1 ResourceClaimTemplates go with the jobs that claim them)',
    )
    .requiredOption(
      '-f, --filename <file>',
      'manifest file, or - for standard input (repeatable)',
      collect,
    )
    .option(
      '--queue <queue>',
      'queue to submit to (default: the kueue.x-k8s.io/queue-name label, else "default")',
    )
    .option(
      '--priority <n>',
      'priority within the queue; higher runs first',
      integerFlag(-2_147_483_648),
    )
    .option(
      '--priority-class <name>',
      "one of the hub's priority classes; the job gets its priority (default: the kueue.x-k8s.io/priority-class label)",
    )
    .option('--name <name>', 'job name (default: metadata.name)')
    .addOption(
      new Option('--on-cluster-lost <policy>', ON_CLUSTER_LOST_HELP).choices(
        ON_CLUSTER_LOST_CHOICES,
      ),
    )
    .option(
      '--max-restarts <n>',
      'start the whole gang again up to n times after a member fails (default 0: the job fails)',
      integerFlag(0, 100),
    )
    .option('--wait', 'follow the jobs until they end; exit 0 Succeeded, 10 Failed, 11 Cancelled')
    .option(
      '--dry-run',
      'check and convert the manifests, print what would be submitted, submit nothing',
    )
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  # Submit a Kubernetes Job you already have; its queue comes from the kueue.x-k8s.io/queue-name label
  muster submit -f job.yaml

  # Submit to a queue with a priority and follow it to the end
  muster submit -f train.yaml --queue research --priority 10 --wait

  # Submit with one of the priority classes the hub defines
  muster submit -f train.yaml --priority-class high

  # See what a JobSet becomes without submitting it
  muster submit -f jobset.yaml --dry-run -o yaml

  # A Job and the ResourceClaimTemplate of its DRA devices, in one file: see what each member claims
  muster submit -f dra-job.yaml --dry-run

  # From standard input
  kubectl create job hello --image=busybox --dry-run=client -o yaml | muster submit -f -`,
    )
    .action(async (flags: SubmitFlags, cmd: Command) => {
      const { drafts, warnings } = submissionOf(ctx, flags);
      for (const w of warnings) ctx.warn(w);
      const format = ctx.output(cmd);
      if (flags.dryRun) {
        printDryRun(ctx, drafts, format);
        return;
      }
      await ctx.withHub(cmd, async (hub) => {
        const jobs: Job[] = [];
        for (const draft of drafts) {
          const { response, job } = await submitDraft(
            ctx,
            cmd,
            hub,
            draft,
            jobs.length,
            drafts.length,
          );
          jobs.push(job);
          if (format === 'table') ctx.print(`${submittedLine(job, response.created)}\n`);
          else
            ctx.print(
              renderOneOfMany(SubmitJobResponse.toJSON(response), format, drafts.length > 1),
            );
        }
        if (flags.wait) ctx.exitCode = await waitForAll(ctx, hub, jobs, format);
      });
    });
}

function submissionOf(ctx: CliContext, flags: SubmitFlags): Submission {
  const overrides: SubmitOverrides = {};
  if (flags.queue !== undefined) overrides.queue = flags.queue;
  if (flags.priority !== undefined) overrides.priority = flags.priority;
  if (flags.priorityClass !== undefined) overrides.priorityClass = flags.priorityClass;
  if (flags.name !== undefined) overrides.name = flags.name;
  if (flags.maxRestarts !== undefined) overrides.maxRestarts = flags.maxRestarts;
  const lost =
    flags.onClusterLost === undefined ? undefined : parseOnClusterLost(flags.onClusterLost);
  if (lost !== undefined) overrides.onClusterLost = lost;
  const documents = flags.filename.flatMap((file) =>
    readManifestFile(file, () => ctx.io.readStdin()),
  );
  return draftsFromDocuments(documents, overrides);
}

function printDryRun(ctx: CliContext, drafts: JobDraft[], format: OutputFormat): void {
  if (format === 'table') {
    for (const d of drafts) {
      const members = d.spec.podSets.reduce((n, ps) => n + ps.count, 0);
      ctx.print(
        `${d.source}: ${d.kind} → job "${d.spec.name}" in queue ${d.spec.queue}, ${members} members\n`,
      );
      if (d.spec.priorityClass !== undefined)
        ctx.print(`  priority class: ${d.spec.priorityClass}\n`);
      const devices = jobDeviceConstraint(d.spec);
      if (devices) ctx.print(`  devices: ${devices}\n`);
      for (const ps of d.spec.podSets) {
        ctx.print(`  ${podSetLine(ps)}\n`);
        for (const line of podSetClaimLines(ps, d.spec.resourceClaimTemplates))
          ctx.print(`    ${line}\n`);
      }
    }
    ctx.note('dry run: nothing was submitted');
    return;
  }
  for (const d of drafts)
    ctx.print(renderOneOfMany(JobSpec.toJSON(d.spec), format, drafts.length > 1));
}

async function submitDraft(
  ctx: CliContext,
  cmd: Command,
  hub: HubConnection,
  draft: JobDraft,
  done: number,
  total: number,
): Promise<{ response: SubmitJobResponse; job: Job }> {
  // One id per document, reused by every retry: the hub then creates the job at most once.
  const clientRequestId = randomUUID();
  ctx.verbose(cmd, `${draft.source}: client request id ${clientRequestId}`);
  try {
    const response = await hub.call(
      (c) => c.jobs.submitJob({ clientRequestId, spec: draft.spec }),
      {
        idempotent: true,
        retry: {
          attempts: SUBMIT_RETRY.attempts,
          baseDelayMs: SUBMIT_RETRY.baseDelayMs,
          maxDelayMs: SUBMIT_RETRY.maxDelayMs,
          onRetry: ({ attempt, attempts, delayMs }) =>
            ctx.note(
              `${draft.source}: the hub at ${hub.settings.address} is unreachable; retrying the submit in ${(delayMs / 1000).toFixed(1)}s (try ${attempt} of ${attempts}, same request id: it is created at most once)`,
            ),
        },
      },
    );
    return { response, job: present(response.job, 'job') };
  } catch (err) {
    if (!(err instanceof HubCallError)) throw err;
    throw refusal(draft, err, done, total);
  }
}

/** The hub's message as it said it, plus where in the file the field came from. */
function refusal(draft: JobDraft, err: HubCallError, done: number, total: number): CliError {
  const refused =
    err.code === status.INVALID_ARGUMENT ||
    err.code === status.NOT_FOUND ||
    err.code === status.ALREADY_EXISTS;
  const location = err.field ? draft.origins.locate(err.field) : undefined;
  let message = refused
    ? `${draft.source}: the hub refused the job: ${err.details}`
    : `${draft.source}: ${err.message}`;
  if (refused && location) message += ` (from ${location})`;
  if (err.code === status.NOT_FOUND && err.field === 'spec.queue') {
    message += `; create the queue with \`muster queues create ${draft.spec.queue}\` or pick another with --queue`;
  }
  if (done > 0) message += ` [${done} of ${total} documents were submitted before this one]`;
  return new CliError(message, err.exitCode);
}

function submittedLine(job: Job, created: boolean): string {
  const members = job.members?.total ?? 0;
  const what = created ? 'submitted' : 'was already submitted (same client request id)';
  return `job ${job.id} ${what}: ${job.spec?.name ?? ''} to queue ${job.spec?.queue ?? ''}, ${members} members`;
}

async function waitForAll(
  ctx: CliContext,
  hub: HubConnection,
  jobs: Job[],
  format: OutputFormat,
): Promise<ExitCode> {
  const live = jobs.length === 1 && ctx.io.stdout.isTTY === true;
  const states = await Promise.all(
    jobs.map((job) =>
      followToEnd(ctx, hub, job, {
        format,
        live,
        ...(jobs.length > 1
          ? { prefix: `${job.spec?.name ?? job.id} ${job.id.slice(0, 8)}  ` }
          : {}),
      }),
    ),
  );
  // The first job (in document order) that did not succeed decides.
  for (const state of states) {
    const code = outcomeExitCode(state) ?? ExitCode.Failure;
    if (code !== ExitCode.Ok) return code;
  }
  return ExitCode.Ok;
}
