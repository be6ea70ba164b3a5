import { join } from 'node:path';
import { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import {
  AgentServiceService,
  InventoryServiceService,
  JobServiceService,
  type AgentServiceServer,
  type InventoryServiceServer,
  type JobServiceServer,
} from '@muster/api';
import type { Log } from '@muster/log';
import type { Transport } from '../auth/tls';
import { tolerantDecoding } from './hostile-input';

/** Where proto/ is, relative to this file in both src/ and dist/ layouts. */
const PROTO_ROOT = join(__dirname, '../../../../proto');

export class HubGrpcServer {
  private readonly server: Server;
  readonly health = new HealthImplementation({
    '': 'NOT_SERVING',
    'muster.v1.JobService': 'NOT_SERVING',
    'muster.v1.InventoryService': 'NOT_SERVING',
  });
  boundPort = 0;

  constructor(
    jobs: JobServiceServer,
    inventory: InventoryServiceServer,
    agents: AgentServiceServer,
    maxRequestBytes: number,
    private readonly transport: Transport,
    private readonly log: Log,
  ) {
    this.server = new Server({
      'grpc.max_receive_message_length': maxRequestBytes,
      'grpc.keepalive_permit_without_calls': 1,
      // Ping idle agent streams so a vanished peer is noticed in seconds, not at the next write,
      // and let agents ping as often as every 5 s without being told "too many pings".
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    });
    // Undecodable requests reach the handlers as a marker they answer with INVALID_ARGUMENT.
    this.server.addService(tolerantDecoding(JobServiceService), jobs);
    this.server.addService(tolerantDecoding(InventoryServiceService), inventory);
    this.server.addService(tolerantDecoding(AgentServiceService), agents);
    this.health.addToServer(this.server);
    try {
      const definition = loadSync(
        ['muster/v1/jobs.proto', 'muster/v1/inventory.proto', 'muster/v1/agent.proto'],
        {
          includeDirs: [PROTO_ROOT],
        },
      );
      new ReflectionService(definition).addToServer(this.server);
    } catch (err) {
      this.log.warn('server reflection disabled: proto files not found', {
        protoRoot: PROTO_ROOT,
        err,
      });
    }
  }

  async listen(address: string): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, this.transport.credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    for (const service of ['', 'muster.v1.JobService', 'muster.v1.InventoryService'])
      this.health.setStatus(service, 'SERVING');
    this.log.info('gRPC listening', {
      address,
      port: this.boundPort,
      transport: this.transport.mode,
    });
    return this.boundPort;
  }

  async close(): Promise<void> {
    for (const service of ['', 'muster.v1.JobService', 'muster.v1.InventoryService'])
      this.health.setStatus(service, 'NOT_SERVING');
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 5000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
