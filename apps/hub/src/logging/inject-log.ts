import { type DynamicModule, Inject, Module } from '@nestjs/common';
import type { Log } from '@muster/log';
import { LOGGER } from './log';

// `@InjectLog('dispatch')` gives a constructor the hub logger bound to one component, the way
// nestjs-pino's `@InjectPinoLogger(context)` does: each decorated name gets one provider, made
// when the application module is built (after every feature file has been loaded).
const components = new Set<string>();

function tokenOf(component: string): string {
  return `MUSTER_LOG:${component}`;
}

/** Injects the logger of `component`: every line carries `component`. */
export function InjectLog(component: string): ParameterDecorator {
  components.add(component);
  return Inject(tokenOf(component));
}

/** Provides the logger of every component a constructor asked for with {@link InjectLog}. */
@Module({})
export class LogModule {
  static forRoot(): DynamicModule {
    const providers = [...components].map((component) => ({
      provide: tokenOf(component),
      inject: [LOGGER],
      useFactory: (logger: Log) => logger.child({ component }),
    }));
    return {
      module: LogModule,
      global: true,
      providers,
      exports: providers.map((p) => p.provide),
    };
  }
}
