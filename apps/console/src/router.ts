/** Where the hub serves the console. */
export const BASE = '/console/';

/** Follows an in-app link without reloading the page. */
export function navigate(path: string): void {
  history.pushState(null, '', `${BASE}${path}`);
  dispatchEvent(new PopStateEvent('popstate'));
}
