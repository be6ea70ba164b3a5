import type { FactoryProvider, InjectionToken } from '@nestjs/common';
import { HUB_CONFIG, type HubConfig } from './hub-config';

/**
 * A provider of the part of the hub's configuration one class needs, under that class's own
 * token: classes name only the settings they use, and specs build them without a whole config.
 */
export function configSlice<T>(
  token: InjectionToken,
  pick: (config: HubConfig) => T,
): FactoryProvider<T> {
  return { provide: token, inject: [HUB_CONFIG], useFactory: pick };
}
