// The rule for URLs the hub fetches signing keys from (OIDC discovery documents and JWKS): https,
// or plain http on a loopback host only (an issuer on the same machine, as in tests).

/** Why the hub must not fetch keys from `url`, or undefined when it may. */
export function fetchedUrlError(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `must be a URL (got "${url.slice(0, 200)}")`;
  }
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && local))
    return 'must be an https:// URL (http:// only on loopback)';
  return undefined;
}
