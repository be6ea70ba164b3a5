// The tools, every one of them a read: assistants troubleshoot, people act. Each answers with a
// few lines of text and the same facts as structured JSON, or a tool error with the hub's word.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ReadOnlyHub } from '../hub/read-only-hub';
import {
  JOB_STATE_NAMES,
  jobStateOf,
  presentCluster,
  presentClusterList,
  presentCohortList,
  presentExplanation,
  presentJob,
  presentJobList,
  presentQueue,
  presentQueueList,
  type ToolAnswer,
} from './present';
import { toolError } from './tool-errors';

/** Every tool only reads, answers the same when called again, and reaches only the hub. */
const READ_ONLY = { readOnlyHint: true, idempotentHint: true, openWorldHint: false } as const;

const jobId = z.string().min(1).describe('The job id (a UUID), as list_jobs shows it.');
const clusterName = z.string().min(1).describe('The cluster name, as list_clusters shows it.');
const queueName = z.string().min(1).describe('The queue name, as list_queues shows it.');

function answer(a: ToolAnswer): CallToolResult {
  return { content: [{ type: 'text', text: a.text }], structuredContent: a.structured };
}

/** Runs one read; a failure of the hub becomes a tool error. */
async function read(hub: ReadOnlyHub, run: () => Promise<ToolAnswer>): Promise<CallToolResult> {
  try {
    return answer(await run());
  } catch (err) {
    return toolError(err, hub.address);
  }
}

export function registerMusterTools(server: McpServer, hub: ReadOnlyHub): void {
  server.registerTool(
    'list_jobs',
    {
      title: 'List jobs',
      description:
        'Jobs (gangs) the token may see, newest first: id, name, queue, state, cluster, members and the reason of the last transition. Filter by queue and states.',
      inputSchema: {
        queue: z.string().optional().describe('Only this queue; default every queue.'),
        states: z
          .array(z.enum(JOB_STATE_NAMES))
          .optional()
          .describe('Only jobs in these states; default every state.'),
        limit: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .optional()
          .describe('Most jobs to return, 1 to 1000; default 50.'),
        page_token: z
          .string()
          .optional()
          .describe('Where to go on from: the page token a previous answer gave.'),
      },
      annotations: READ_ONLY,
    },
    ({ queue, states, limit, page_token }) =>
      read(hub, async () =>
        presentJobList(
          await hub.listJobs({
            queue: queue ?? '',
            states: (states ?? []).map(jobStateOf),
            pageSize: limit ?? 50,
            pageToken: page_token ?? '',
          }),
        ),
      ),
  );

  server.registerTool(
    'get_job',
    {
      title: 'Get a job',
      description:
        'One job in full: state and its reason, cluster, members per phase, restarts, pod sets and what each member requests.',
      inputSchema: { job_id: jobId },
      annotations: READ_ONLY,
    },
    ({ job_id }) => read(hub, async () => presentJob(await hub.getJob(job_id))),
  );

  server.registerTool(
    'explain_job',
    {
      title: 'Explain why a job waits',
      description:
        'Why a queued job is not placed: a one-line summary and, per cluster, whether the gang fits and if not why (capacity, topology, quota, cluster not ready), as of the last scheduling cycle.',
      inputSchema: { job_id: jobId },
      annotations: READ_ONLY,
    },
    ({ job_id }) => read(hub, async () => presentExplanation(await hub.explainJob(job_id))),
  );

  server.registerTool(
    'list_clusters',
    {
      title: 'List clusters',
      description:
        'Worker clusters: agent liveness (connected, lost, never connected) and last heartbeat, ready nodes, free GPUs and DRA devices per class, cordon and drain.',
      annotations: READ_ONLY,
    },
    () => read(hub, async () => presentClusterList(await hub.listClusters())),
  );

  server.registerTool(
    'get_cluster',
    {
      title: 'Get a cluster',
      description:
        'One cluster in full: allocatable and free resources, devices per class, topology levels, conditions, agent state and version, drain.',
      inputSchema: { name: clusterName },
      annotations: READ_ONLY,
    },
    ({ name }) => read(hub, async () => presentCluster(await hub.getCluster(name))),
  );

  server.registerTool(
    'list_queues',
    {
      title: 'List queues',
      description:
        'Queues the token may see: weight, cohort, nominal quota, what their admitted gangs use and what one more gang could take now, fair share.',
      annotations: READ_ONLY,
    },
    () => read(hub, async () => presentQueueList(await hub.listQueues())),
  );

  server.registerTool(
    'get_queue',
    {
      title: 'Get a queue',
      description:
        'One queue in full: quota, usage, borrowed and available amounts, borrowing and lending limits, budget, priority bound, namespaces.',
      inputSchema: { name: queueName },
      annotations: READ_ONLY,
    },
    ({ name }) => read(hub, async () => presentQueue(await hub.getQueue(name))),
  );

  server.registerTool(
    'list_cohorts',
    {
      title: 'List cohorts',
      description:
        'Cohorts, the tree queues share quota in: parent, member queues, child cohorts and their own quota.',
      annotations: READ_ONLY,
    },
    () => read(hub, async () => presentCohortList(await hub.listCohorts())),
  );
}
