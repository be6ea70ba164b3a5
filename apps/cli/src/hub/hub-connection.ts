// One connection to the hub for the life of a command: unary calls with retry and error
// translation, and the raw clients for streams.
import { connectHub, type HubClients } from '@muster/api';
import { channelCredentials } from '../config/channel-credentials';
import type { HubSettings } from '../config/hub-settings';
import { hubCallError } from './hub-errors';
import { DEFAULT_RETRY, isServiceError, isUnavailable, withRetry, type RetryPolicy } from './retry';

export interface CallOptions {
  /** Safe to repeat after UNAVAILABLE (reads, idempotent writes, submits with a request id). */
  idempotent: boolean;
  /** How long and how often to retry an idempotent call; default DEFAULT_RETRY (≈ 1.75 s). */
  retry?: Partial<RetryPolicy>;
}

export class HubConnection {
  private constructor(
    readonly settings: HubSettings,
    readonly clients: HubClients,
    private readonly retry: RetryPolicy,
  ) {}

  static open(settings: HubSettings, retry: RetryPolicy = DEFAULT_RETRY): HubConnection {
    const clients = connectHub(settings.address, {
      credentials: channelCredentials(settings.tls, settings.contextName),
      ...(settings.token ? { token: settings.token } : {}),
    });
    return new HubConnection(settings, clients, retry);
  }

  /** Runs one unary call; failures become HubCallError with a message naming the hub. */
  async call<T>(invoke: (clients: HubClients) => Promise<T>, options: CallOptions): Promise<T> {
    try {
      return await withRetry(
        () => invoke(this.clients),
        options.idempotent ? isUnavailable : () => false,
        { ...this.retry, ...options.retry },
      );
    } catch (err) {
      throw this.translate(err);
    }
  }

  translate(err: unknown): unknown {
    return isServiceError(err) ? hubCallError(err, this.settings) : err;
  }

  close(): void {
    this.clients.close();
  }
}
