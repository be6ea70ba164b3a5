// A stand-in hub for the CLI's unit tests: a real gRPC server on a free local port that answers
// the calls a test gives it from memory and records every request, so a command's flags are
// checked against what reaches the wire without a hub, a database or a cluster.
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

/** An error a stand-in answers with, as a hub would send it. */
export interface ServiceErrorLike {
  code: status;
  details: string;
}

/** `kind "name" not found`, as the hub says it. */
export function notFound(kind: string, name: string): ServiceErrorLike {
  return { code: status.NOT_FOUND, details: `${kind} "${name}" not found` };
}

export class StandInHub {
  /** Every call, in order: the method's name and its request. */
  readonly calls: [string, unknown][] = [];
  address = '';
  private readonly server = new Server();

  /** A unary handler that records its call and answers with `answer`'s value or error. */
  protected reply<Req, Res>(name: string, answer: (req: Req) => Res | ServiceErrorLike) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      this.calls.push([name, call.request]);
      const res = answer(call.request);
      if (res && typeof res === 'object' && 'code' in res) callback(res as ServiceErrorLike);
      else callback(null, res as Res);
    };
  }

  /** Serves `handlers` for `service` on 127.0.0.1 (a free port, then in `address`). */
  protected async serve(
    service: ServiceDefinition,
    handlers: UntypedServiceImplementation,
  ): Promise<this> {
    this.server.addService(service, handlers);
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.address = `127.0.0.1:${port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
