// muster clusters list|get|register|cordon|drain|uncordon|fence|deregister: the worker cluster
// inventory.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  Cluster,
  DrainClusterResponse,
  FenceClusterResponse,
  ListClustersResponse,
  type AccessProvider,
} from '@muster/api';
import { UsageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { waitUntilDrained } from '../hub/drain-wait';
import type { HubConnection } from '../hub/hub-connection';
import { present } from '../hub/present';
import { renderClusterDetails, renderClusterTable } from '../output/cluster-views';
import { duration } from '../output/time-format';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { collect, collectLabel, durationFlag } from './flag-parsers';

/** Longest notice a drain may give (the hub's limit: a drain must end). */
const MAX_DRAIN_GRACE_SECONDS = 86_400;

interface DrainFlags {
  /** Seconds each gang has between its notice and its deletion. */
  grace: number;
  reason?: string;
  wait?: boolean;
}

interface RegisterFlags {
  displayName?: string;
  clusterSet?: string;
  topologyLevel?: string[];
  label?: Record<string, string>;
  server?: string;
  caFile?: string;
  tlsServerName?: string;
  insecureSkipTlsVerify?: boolean;
  provider: string;
}

export function registerClustersCommand(program: Command, ctx: CliContext): void {
  const clusters = program
    .command('clusters')
    .alias('cluster')
    .description('list, register, cordon and drain worker clusters')
    .addHelpText(
      'after',
      `
Examples:
  muster clusters list
  muster clusters register gpu-east --display-name "GPU East" --cluster-set training \\
      --topology-level topology.kubernetes.io/zone --topology-level kubernetes.io/hostname
  muster clusters cordon gpu-east --reason "driver upgrade"
  muster clusters drain gpu-east --grace 10m --reason "node pool upgrade" --wait`,
    );

  clusters
    .command('list')
    .alias('ls')
    .description('list clusters: readiness, agent, nodes, free/total CPU and GPUs, topology levels')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  muster clusters list\n  muster clusters list -o yaml')
    .action(async (_flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call((c) => c.inventory.listClusters({}), { idempotent: true });
        if (ctx.output(cmd) === 'table' && response.clusters.length === 0) {
          ctx.note('No clusters registered; add one with `muster clusters register NAME`.');
          return;
        }
        ctx.show(
          cmd,
          () => renderClusterTable(response.clusters),
          () => ListClustersResponse.toJSON(response),
        );
      });
    });

  clusters
    .command('get')
    .alias('describe')
    .description(
      'show one cluster: capacity, DRA devices per DeviceClass, topology levels, access providers, conditions',
    )
    .argument('<name>', 'cluster name')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  muster clusters get gpu-east\n  muster clusters get gpu-east -o json',
    )
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const cluster = present(
          (await hub.call((c) => c.inventory.getCluster({ name }), { idempotent: true })).cluster,
          'cluster',
        );
        ctx.show(
          cmd,
          () => renderClusterDetails(cluster, ctx.now()),
          () => Cluster.toJSON(cluster),
        );
      });
    });

  clusters
    .command('register')
    .description('register a worker cluster (its agent then connects with the same name)')
    .argument('<name>', 'cluster name (a DNS-1123 label)')
    .option('--display-name <text>', 'name for people')
    .option('--cluster-set <name>', 'ClusterProfile cluster set')
    .option(
      '--topology-level <label-key>',
      'node label key of a topology level, highest first (repeatable; default: zone, block, rack, hostname)',
      collect,
    )
    .option('--label <key=value>', 'label of the cluster (repeatable)', collectLabel)
    .option('--server <url>', 'API server URL, for an access provider')
    .option('--ca-file <file>', "API server's CA certificate (PEM), with --server")
    .option('--tls-server-name <name>', 'server name to verify, with --server')
    .option('--insecure-skip-tls-verify', 'do not verify the API server certificate, with --server')
    .option('--provider <name>', 'access provider name, with --server', 'muster')
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  muster clusters register gpu-east
  muster clusters register gpu-east --display-name "GPU East" --label region=east \\
      --topology-level cloud.provider.com/topology-block --topology-level kubernetes.io/hostname \\
      --server https://10.0.0.1:6443 --ca-file ./gpu-east-ca.pem`,
    )
    .action(async (name: string, flags: RegisterFlags, cmd: Command) => {
      const accessProviders = accessProvidersOf(flags);
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call(
          (c) =>
            c.inventory.registerCluster({
              name,
              displayName: flags.displayName ?? '',
              clusterSet: flags.clusterSet ?? '',
              topologyLevels: flags.topologyLevel ?? [],
              accessProviders,
              labels: flags.label ?? {},
            }),
          // Not retried: a lost answer would turn a retry into "already registered".
          { idempotent: false },
        );
        const cluster = present(response.cluster, 'cluster');
        ctx.show(
          cmd,
          () => `cluster ${cluster.name} registered\n`,
          () => Cluster.toJSON(cluster),
        );
      });
    });

  clusters
    .command('cordon')
    .description('stop placing new gangs on a cluster; gangs already there keep running')
    .argument('<name>', 'cluster name')
    .option('--reason <text>', 'why, for the hub log')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  muster clusters cordon gpu-east --reason "driver upgrade"',
    )
    .action(async (name: string, flags: { reason?: string }, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call(
          (c) => c.inventory.cordonCluster({ name, reason: flags.reason ?? '' }),
          { idempotent: true },
        );
        const cluster = present(response.cluster, 'cluster');
        ctx.show(
          cmd,
          () => `cluster ${cluster.name} cordoned\n`,
          () => Cluster.toJSON(cluster),
        );
      });
    });

  clusters
    .command('drain')
    .description(
      'cordon a cluster and move its gangs elsewhere: each gets an eviction notice, then is deleted and requeued',
    )
    .argument('<name>', 'cluster name')
    .requiredOption(
      '--grace <duration>',
      "each gang's notice before its pods are deleted: 30s, 10m, 1h30m or seconds (0: at once; at most 24h)",
      durationFlag(MAX_DRAIN_GRACE_SECONDS),
    )
    .option('--reason <text>', "why, kept in the jobs' events and the notice")
    .option(
      '--wait',
      'wait until no gang is left on the cluster (Ctrl-C stops waiting, not the drain)',
    )
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Every gang on the cluster gets the notice on its pods (the annotation muster.dev/eviction-notice
and an Event) to checkpoint; once --grace has passed since its agent confirmed the notice, its
pods are deleted and it goes back to its queue, keeping its place, to be placed elsewhere. It is
never failed. The cluster stays cordoned until muster clusters uncordon. See docs/preemption.md.

Examples:
  muster clusters drain gpu-east --grace 10m --reason "node pool upgrade"
  muster clusters drain gpu-east --grace 30s --wait && muster clusters deregister gpu-east`,
    )
    .action(async (name: string, flags: DrainFlags, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call(
          (c) =>
            c.inventory.drainCluster({
              name,
              graceSeconds: flags.grace,
              reason: flags.reason ?? '',
            }),
          // Safe to repeat: a gang that has its notice keeps it; only gangs that came since get one.
          { idempotent: true },
        );
        const cluster = present(response.cluster, 'cluster');
        const n = response.noticedJobIds.length;
        ctx.show(
          cmd,
          () =>
            `cluster ${cluster.name} drained: ${n} gang${n === 1 ? '' : 's'} given a notice of ${duration(flags.grace)}; ${n === 1 ? 'it is' : 'they are'} deleted after it and placed elsewhere\n`,
          () => DrainClusterResponse.toJSON(response),
        );
        if (flags.wait) await waitForEmpty(ctx, cmd, hub, cluster);
      });
    });

  clusters
    .command('uncordon')
    .description('let the hub place new gangs on a cluster again (ends a drain)')
    .argument('<name>', 'cluster name')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  muster clusters uncordon gpu-east')
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call((c) => c.inventory.uncordonCluster({ name }), {
          idempotent: true,
        });
        const cluster = present(response.cluster, 'cluster');
        ctx.show(
          cmd,
          () => `cluster ${cluster.name} uncordoned\n`,
          () => Cluster.toJSON(cluster),
        );
      });
    });

  clusters
    .command('fence')
    .description(
      'confirm that a lost cluster runs none of its gangs any more, so its requeue gangs move now',
    )
    .argument('<name>', 'cluster name (its agent must be Lost)')
    .option('--reason <text>', "how you know its pods are gone, kept in the jobs' events")
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Only for a cluster whose agent is Lost and whose API server the hub cannot reach either: the
hub then cannot confirm that the cluster's gangs are gone, and keeps them where they are
(reason AwaitingFence) rather than risk running them twice. Fence only a cluster you know is
down or cut off for good: a gang still running there would then run twice.

Examples:
  muster clusters fence gpu-east --reason "powered off in the datacenter console"`,
    )
    .action(async (name: string, flags: { reason?: string }, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call(
          (c) => c.inventory.fenceCluster({ name, reason: flags.reason ?? '' }),
          { idempotent: true },
        );
        const n = response.requeuedJobIds.length;
        ctx.show(
          cmd,
          () => `cluster ${name} fenced; ${n} requeue gang${n === 1 ? '' : 's'} placed again\n`,
          () => FenceClusterResponse.toJSON(response),
        );
      });
    });

  clusters
    .command('deregister')
    .description('remove a cluster that holds no gangs')
    .argument('<name>', 'cluster name')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  muster clusters cordon gpu-east && muster clusters deregister gpu-east',
    )
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        await hub.call((c) => c.inventory.deregisterCluster({ name }), { idempotent: false });
        ctx.show(
          cmd,
          () => `cluster ${name} deregistered\n`,
          () => ({}),
        );
      });
    });
}

/**
 * `drain --wait`: "gangs left: N" as the count falls, then "cluster NAME is empty"; on stderr
 * with -o json|yaml so stdout holds only the response. Ctrl-C stops the wait, not the drain.
 */
async function waitForEmpty(
  ctx: CliContext,
  cmd: Command,
  hub: HubConnection,
  cluster: Cluster,
): Promise<void> {
  const say = (text: string) =>
    ctx.output(cmd) === 'table' ? ctx.print(`${text}\n`) : ctx.note(text);
  const stop = new AbortController();
  const interrupted = () => stop.abort();
  process.once('SIGINT', interrupted);
  try {
    const end = await waitUntilDrained(hub, cluster.name, cluster.drain?.gangsLeft ?? 0, {
      onProgress: (left) => say(`gangs left: ${left}`),
      signal: stop.signal,
    });
    if (end === 'empty') {
      say(`cluster ${cluster.name} is empty`);
      return;
    }
    ctx.note(`stopped waiting; the drain goes on (see muster clusters get ${cluster.name})`);
    ctx.exitCode = ExitCode.Interrupted;
  } finally {
    process.removeListener('SIGINT', interrupted);
  }
}

function accessProvidersOf(flags: RegisterFlags): AccessProvider[] {
  if (flags.server === undefined) {
    if (
      flags.caFile !== undefined ||
      flags.tlsServerName !== undefined ||
      flags.insecureSkipTlsVerify
    ) {
      throw new UsageError(
        '--ca-file, --tls-server-name and --insecure-skip-tls-verify describe an access provider; add --server URL',
      );
    }
    return [];
  }
  let certificateAuthorityData: Buffer = Buffer.alloc(0);
  if (flags.caFile !== undefined) {
    try {
      certificateAuthorityData = readFileSync(flags.caFile);
    } catch (err) {
      throw new UsageError(`--ca-file: cannot read ${flags.caFile}: ${(err as Error).message}`);
    }
  }
  return [
    {
      name: flags.provider,
      cluster: {
        server: flags.server,
        certificateAuthorityData,
        tlsServerName: flags.tlsServerName ?? '',
        proxyUrl: '',
        insecureSkipTlsVerify: flags.insecureSkipTlsVerify ?? false,
        extensions: [],
      },
    },
  ];
}
