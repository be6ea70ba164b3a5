import { ConfigError, loadMcpConfig, parseTransport } from './config';

describe('parseTransport', () => {
  it('is stdio without flags, HTTP on loopback with --http', () => {
    expect(parseTransport([])).toEqual({ kind: 'stdio' });
    expect(parseTransport(['--http', '8080'])).toEqual({
      kind: 'http',
      host: '127.0.0.1',
      port: 8080,
    });
    expect(parseTransport(['--http', '0', '--host', '0.0.0.0'])).toEqual({
      kind: 'http',
      host: '0.0.0.0',
      port: 0,
    });
    expect(parseTransport(['--help'])).toBe('help');
  });

  it('names the flag at fault', () => {
    expect(() => parseTransport(['--http', 'x'])).toThrow(/--http: must be a port/);
    expect(() => parseTransport(['--host', 'a'])).toThrow(/--host goes with --http/);
    expect(() => parseTransport(['--write'])).toThrow(ConfigError);
  });
});

describe('loadMcpConfig', () => {
  it('defaults to the local hub in plain text', () => {
    expect(loadMcpConfig([], {})).toEqual({
      hub: { address: '127.0.0.1:50051', token: undefined, timeoutMs: 10_000 },
      transport: { kind: 'stdio' },
      logLevel: 'info',
    });
  });

  it('uses TLS once a MUSTER_TLS_* file is set, or MUSTER_TLS=true', () => {
    const config = loadMcpConfig([], {
      MUSTER_HUB: 'hub.example.com:443',
      MUSTER_TOKEN: 'viewer-token',
      MUSTER_TLS_CA_FILE: '/etc/muster/ca.crt',
    });
    expect(config).toMatchObject({
      hub: {
        address: 'hub.example.com:443',
        token: 'viewer-token',
        tls: { caFile: '/etc/muster/ca.crt' },
      },
    });
    expect(loadMcpConfig([], { MUSTER_TLS: 'true' })).toMatchObject({ hub: { tls: {} } });
  });

  it('names every setting at fault', () => {
    expect(() =>
      loadMcpConfig([], {
        MUSTER_HUB: 'nowhere',
        MUSTER_TLS_CERT_FILE: '/c.pem',
        MUSTER_HUB_TIMEOUT_MS: '5',
      }),
    ).toThrow(
      'MUSTER_HUB: must be "host:port" (got "nowhere"); MUSTER_HUB_TIMEOUT_MS: must be an integer from 100 to 600000 (got "5")',
    );
    expect(() => loadMcpConfig([], { MUSTER_TLS_CERT_FILE: '/c.pem' })).toThrow(
      'MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE go together',
    );
  });
});
