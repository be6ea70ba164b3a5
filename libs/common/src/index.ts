// Small pure helpers every Muster process shares: no dependencies, no I/O.
export { Backoff, backoffDelay, type BackoffOptions, type BackoffPolicy } from './lib/backoff';
export { CoalescedRunner, type CoalescedRunnerOptions } from './lib/coalesced-runner';
export { GroupCommit, type GroupCommitOptions, type Settled } from './lib/group-commit';
export { isRecord } from './lib/records';
export { errorText } from './lib/errors';
export { gangRefKey, splitGangRefKey } from './lib/gang-ref';
export { ConfigError, settingValues, type SettingProblem } from './lib/settings';
