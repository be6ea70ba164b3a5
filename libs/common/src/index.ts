// Small pure helpers every Muster process shares: no dependencies, no I/O.
export { isRecord } from './lib/records';
export { errorText } from './lib/errors';
