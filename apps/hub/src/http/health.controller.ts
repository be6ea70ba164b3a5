import {
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  ServiceUnavailableException,
} from '@nestjs/common';
import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE, REDIS } from '../core.tokens';
import { HubMetrics } from './metrics';

@Controller()
export class HealthController {
  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly metrics: HubMetrics,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  /** Readiness: Postgres and Redis both answer. */
  @Get('readyz')
  async readyz(): Promise<{ status: string; postgres: string; redis: string }> {
    const [postgres, redis] = await Promise.all([
      withTimeout(this.db.query('SELECT 1').then(() => 'ok')),
      withTimeout(this.redis.ping().then((p) => (p === 'PONG' ? 'ok' : p))),
    ]);
    const ready = postgres === 'ok' && redis === 'ok';
    if (!ready) throw new ServiceUnavailableException({ status: 'not ready', postgres, redis });
    return { status: 'ready', postgres, redis };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async prometheus(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

async function withTimeout(p: Promise<string>, ms = 2000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.catch((err: Error) => `error: ${err.message}`),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
