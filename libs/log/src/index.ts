// The one structured logger of the hub and the agent, on pino.
export {
  createLog,
  REDACTED,
  type Log,
  type LogFields,
  type LogLevel,
  type LogOptions,
} from './lib/log';
