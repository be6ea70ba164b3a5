/**
 * The key of one dispatch of a gang: its id and the fencing token it was placed with. The hub
 * and the agent key reflected dispatches, ledger entries and outbox records the same way, so a
 * key read in one process's logs or rows means the same dispatch in the other's.
 */
export function gangRefKey(gang: string, token: number | string): string {
  return `${gang}#${token}`;
}
