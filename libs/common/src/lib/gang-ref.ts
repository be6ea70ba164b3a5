/**
 * The map key of one gang incarnation, a gang id with its fencing token. Gang ids are UUIDs, so
 * the separator cannot occur inside the id.
 */
export function gangRefKey(gangId: string, token: string | number | bigint): string {
  return `${gangId}#${token}`;
}
