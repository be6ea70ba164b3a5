/**
 * The key of one dispatch of a gang: its id and the fencing token it was placed with. The hub
 * and the agent key reflected dispatches, ledger entries and outbox records the same way, so a
 * key read in one process's logs or rows means the same dispatch in the other's.
 */
export function gangRefKey(gang: string, token: number | string): string {
  return `${gang}#${token}`;
}

/** The gang id and the fencing token of a key made by {@link gangRefKey} with a numeric token. */
export function splitGangRefKey(key: string): [gang: string, token: number] {
  const i = key.lastIndexOf('#');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}
