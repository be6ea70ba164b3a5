// Promise-based clients of the hub's services, shared by the CLI, the agent and the tests.
import {
  credentials as grpcCredentials,
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type ClientOptions,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { InventoryServiceClient } from './gen/muster/v1/inventory';
import { JobServiceClient } from './gen/muster/v1/jobs';

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

type StreamMethod<Req, Res> = (
  request: Req,
  metadata?: Metadata,
  options?: Partial<CallOptions>,
) => ClientReadableStream<Res>;

/** Turns every unary method of a generated client into one returning a promise. */
export type Promised<C> = {
  [
    K in keyof C as C[K] extends UnaryMethod<infer _Req, infer _Res> ? K : never
  ]: C[K] extends UnaryMethod<infer Req, infer Res>
    ? (request: Req, options?: CallSettings) => Promise<Res>
    : never;
};

export interface CallSettings {
  /** Deadline in milliseconds from now. */
  timeoutMs?: number;
  /** Bearer token sent as "authorization: Bearer ...". */
  token?: string;
}

export interface HubClientOptions {
  credentials?: ChannelCredentials;
  /** Default deadline per unary call in milliseconds; default 30000. */
  timeoutMs?: number;
  token?: string;
  channelOptions?: ClientOptions;
}

function metadataFor(token: string | undefined): Metadata {
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}

function promised<C extends object>(client: C, defaults: HubClientOptions): Promised<C> {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'close') return value;
      return (request: unknown, settings: CallSettings = {}) =>
        new Promise((resolve, reject) => {
          const timeoutMs = settings.timeoutMs ?? defaults.timeoutMs ?? 30_000;
          (value as UnaryMethod<unknown, unknown>).call(
            target,
            request,
            metadataFor(settings.token ?? defaults.token),
            { deadline: Date.now() + timeoutMs },
            (error, response) => (error ? reject(error) : resolve(response)),
          );
        });
    },
  }) as unknown as Promised<C>;
}

export interface HubClients {
  jobs: Promised<JobServiceClient>;
  inventory: Promised<InventoryServiceClient>;
  /** Server streams, which stay callback/event based. */
  streams: {
    watchJob: StreamMethod<Parameters<JobServiceClient['watchJob']>[0], WatchJobResponseOf>;
    watchJobs: StreamMethod<Parameters<JobServiceClient['watchJobs']>[0], WatchJobsResponseOf>;
  };
  close(): void;
}

type WatchJobResponseOf = import('./gen/muster/v1/jobs').WatchJobResponse;
type WatchJobsResponseOf = import('./gen/muster/v1/jobs').WatchJobsResponse;

/** Connects to a hub at "host:port". Plain text unless credentials are given. */
export function connectHub(address: string, options: HubClientOptions = {}): HubClients {
  const creds = options.credentials ?? grpcCredentials.createInsecure();
  const jobs = new JobServiceClient(address, creds, options.channelOptions);
  const inventory = new InventoryServiceClient(address, creds, options.channelOptions);
  return {
    jobs: promised(jobs, options),
    inventory: promised(inventory, options),
    streams: {
      watchJob: (req, md, callOptions) =>
        jobs.watchJob(req, md ?? metadataFor(options.token), callOptions ?? {}),
      watchJobs: (req, md, callOptions) =>
        jobs.watchJobs(req, md ?? metadataFor(options.token), callOptions ?? {}),
    },
    close() {
      jobs.close();
      inventory.close();
    },
  };
}

export { metadataFor };
