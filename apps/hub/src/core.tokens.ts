// Tokens of the connections CoreModule provides, apart from it so a repository can name its
// DataSource without importing the module that builds every connection.

/** The TypeORM DataSource on the hub's Postgres. */
export const DATA_SOURCE = Symbol('DATA_SOURCE');
/**
 * A Redis connection for commands (publish, readiness, BullMQ); subscribers get their own.
 * `maxRetriesPerRequest: null` is what BullMQ requires of the connections its workers use.
 */
export const REDIS = Symbol('REDIS');
