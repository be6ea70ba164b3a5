// The hub as the tools see it: the read calls and nothing else, so no tool can change the fleet
// even by mistake (the viewer token makes the hub refuse it too).
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import {
  connectHub,
  type Cluster,
  type Cohort,
  type ExplainJobResponse,
  type HubClients,
  type Job,
  type JobState,
  type ListJobsResponse,
  type Queue,
} from '@muster/api';
import { ConfigError, type HubAccess } from '../config';

export interface JobListing {
  queue: string;
  states: JobState[];
  pageSize: number;
  pageToken: string;
}

/** The read calls of JobService and InventoryService; every one may fail with a ServiceError. */
export interface ReadOnlyHub {
  readonly address: string;
  listJobs(listing: JobListing): Promise<ListJobsResponse>;
  getJob(jobId: string): Promise<Job>;
  explainJob(jobId: string): Promise<ExplainJobResponse>;
  listClusters(): Promise<Cluster[]>;
  getCluster(name: string): Promise<Cluster>;
  listQueues(): Promise<Queue[]>;
  getQueue(name: string): Promise<Queue>;
  listCohorts(): Promise<Cohort[]>;
  close(): void;
}

function read(setting: string, path: string | undefined): Buffer | null {
  if (path === undefined) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      `${setting}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

export function channelCredentials(tls: HubAccess['tls']): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(
    read('MUSTER_TLS_CA_FILE', tls.caFile),
    read('MUSTER_TLS_KEY_FILE', tls.keyFile),
    read('MUSTER_TLS_CERT_FILE', tls.certFile),
  );
}

/** A hub answered a message without the object it must carry: a hub of another version. */
function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the hub answered without ${what}`);
  return value;
}

export class GrpcReadOnlyHub implements ReadOnlyHub {
  private constructor(
    readonly address: string,
    private readonly clients: HubClients,
  ) {}

  static connect(access: HubAccess): GrpcReadOnlyHub {
    const clients = connectHub(access.address, {
      credentials: channelCredentials(access.tls),
      timeoutMs: access.timeoutMs,
      ...(access.token !== undefined && { token: access.token }),
      ...(access.tls?.serverName !== undefined && {
        channelOptions: { 'grpc.ssl_target_name_override': access.tls.serverName },
      }),
    });
    return new GrpcReadOnlyHub(access.address, clients);
  }

  listJobs(listing: JobListing): Promise<ListJobsResponse> {
    return this.clients.jobs.listJobs(listing);
  }

  async getJob(jobId: string): Promise<Job> {
    return present((await this.clients.jobs.getJob({ jobId })).job, 'the job');
  }

  explainJob(jobId: string): Promise<ExplainJobResponse> {
    return this.clients.jobs.explainJob({ jobId });
  }

  async listClusters(): Promise<Cluster[]> {
    return (await this.clients.inventory.listClusters({})).clusters;
  }

  async getCluster(name: string): Promise<Cluster> {
    return present((await this.clients.inventory.getCluster({ name })).cluster, 'the cluster');
  }

  async listQueues(): Promise<Queue[]> {
    return (await this.clients.inventory.listQueues({})).queues;
  }

  async getQueue(name: string): Promise<Queue> {
    return present((await this.clients.inventory.getQueue({ name })).queue, 'the queue');
  }

  async listCohorts(): Promise<Cohort[]> {
    return (await this.clients.inventory.listCohorts({})).cohorts;
  }

  close(): void {
    this.clients.close();
  }
}
