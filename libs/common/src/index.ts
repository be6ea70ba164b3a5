// Small pure helpers every Muster process shares: no I/O, and no dependency but zod (the setting
// schemas).
export { Backoff, backoffDelay, type BackoffOptions, type BackoffPolicy } from './lib/backoff';
export { CoalescedRunner, type CoalescedRunnerOptions } from './lib/coalesced-runner';
export { GroupCommit, type GroupCommitOptions, type Settled } from './lib/group-commit';
export { isRecord } from './lib/records';
export { errorText } from './lib/errors';
export { gangRefKey, splitGangRefKey } from './lib/gang-ref';
export { ConfigError, settingValues, type SettingProblem } from './lib/settings';
export { choice, flag, integer, list } from './lib/setting-schemas';
