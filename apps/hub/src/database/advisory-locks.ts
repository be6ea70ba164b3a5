// Postgres advisory lock keys used by the hub. One place, so two features never share a key.

/** Held (transaction-scoped) while a transaction appends job events: sequence numbers then commit in order, so a reader that resumes after sequence N never skips an event that commits late. */
export const JOB_EVENTS_APPEND_LOCK = 7_100_001;

/** Held (session-scoped) while migrations run, so replicas starting together migrate once. */
export const MIGRATIONS_LOCK = 7_100_002;

/** Held (session-scoped, on a dedicated connection) by the one replica that runs scheduling cycles. */
export const SCHEDULER_LEADER_LOCK = 7_100_003;
