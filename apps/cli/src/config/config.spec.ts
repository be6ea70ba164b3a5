import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, NotFoundError, UsageError } from '../errors';
import {
  loadConfig,
  parseConfig,
  redactConfig,
  saveConfig,
  type MusterConfig,
} from './config-file';
import { configFilePath } from './config-path';
import { DEFAULT_HUB, resolveHubSettings } from './hub-settings';

describe('config file location', () => {
  it('prefers MUSTER_CONFIG, then an absolute XDG_CONFIG_HOME, then ~/.config', () => {
    expect(configFilePath({ MUSTER_CONFIG: '/tmp/m.yaml', XDG_CONFIG_HOME: '/x' }, '/home/a')).toBe(
      '/tmp/m.yaml',
    );
    expect(configFilePath({ XDG_CONFIG_HOME: '/x' }, '/home/a')).toBe('/x/muster/config.yaml');
    expect(configFilePath({ XDG_CONFIG_HOME: 'relative' }, '/home/a')).toBe(
      '/home/a/.config/muster/config.yaml',
    );
    expect(configFilePath({}, '/home/a')).toBe('/home/a/.config/muster/config.yaml');
  });
});

describe('config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-config-'));

  it('treats a missing file as empty and round-trips what it saves, readable by the owner only', () => {
    const path = join(dir, 'sub', 'config.yaml');
    expect(loadConfig(path)).toEqual({ contexts: [] });
    const config: MusterConfig = {
      currentContext: 'prod',
      contexts: [
        {
          name: 'prod',
          hub: 'hub:443',
          token: 's3cret',
          tls: { caFile: 'ca.pem', insecure: false },
        },
      ],
    };
    saveConfig(path, config);
    expect(loadConfig(path)).toEqual(config);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('redacts tokens', () => {
    const redacted = redactConfig({
      contexts: [
        { name: 'a', hub: 'h:1', token: 't' },
        { name: 'b', hub: 'h:2' },
      ],
    });
    expect(redacted.contexts).toEqual([
      { name: 'a', hub: 'h:1', token: 'REDACTED' },
      { name: 'b', hub: 'h:2' },
    ]);
  });

  it.each([
    ['contexts: {}', 'contexts: must be a list'],
    ['contexts: [{name: a}]', 'contexts[0].hub: must be HOST:PORT of the hub'],
    [
      'contexts: [{name: a, hub: "h:1"}, {name: a, hub: "h:2"}]',
      'contexts[1].name: duplicate context "a"',
    ],
    [
      'contexts: [{name: a, hub: "h:1", tls: {insecure: "yes"}}]',
      'contexts[0].tls.insecure: must be true or false',
    ],
    ['currentContext: 3', 'currentContext: must be a context name'],
    ['- a list', '(top level): must be a map'],
    ['a: [', 'invalid YAML'],
  ])('refuses %s', (text, expected) => {
    expect(() => parseConfig(text, '/c.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(text, '/c.yaml')).toThrow(expected);
  });

  it('names every field at fault at once', () => {
    expect(() => parseConfig('contexts: [3, {name: "", hub: "h:1", token: 5}]', '/c.yaml')).toThrow(
      '/c.yaml: contexts[0]: must be a map with name and hub; contexts[1].name: must be a non-empty string; contexts[1].token: must be a string; fix it',
    );
  });

  it('reads a null field as absent and leaves unknown fields out', () => {
    const text =
      'currentContext: null\ncontexts: [{name: a, hub: "h:1", token: null, tls: {caFile: c, keyFile: null}, colour: red}]';
    expect(parseConfig(text, '/c.yaml')).toStrictEqual({
      contexts: [{ name: 'a', hub: 'h:1', tls: { caFile: 'c' } }],
    });
  });

  it('writes through a temporary file and leaves none behind', () => {
    const sub = join(dir, 'atomic');
    const path = join(sub, 'config.yaml');
    saveConfig(path, { contexts: [{ name: 'x', hub: 'h:1' }] });
    saveConfig(path, { contexts: [{ name: 'y', hub: 'h:2' }] });
    expect(readdirSync(sub)).toEqual(['config.yaml']);
    expect(readFileSync(path, 'utf8')).toContain('name: y');
  });
});

describe('hub settings: flags > MUSTER_* > context > default', () => {
  const config: MusterConfig = {
    currentContext: 'prod',
    contexts: [
      {
        name: 'prod',
        hub: 'prod.example:443',
        token: 'prod-token',
        tls: { caFile: 'certs/ca.pem' },
      },
      { name: 'dev', hub: 'dev.example:50051' },
    ],
  };
  const path = '/home/a/.config/muster/config.yaml';

  it('uses the current context, with TLS paths relative to the config file', () => {
    const s = resolveHubSettings({}, {}, config, path);
    expect(s).toEqual({
      address: 'prod.example:443',
      addressSource: `context "prod" in ${path}`,
      token: 'prod-token',
      contextName: 'prod',
      tls: { caFile: '/home/a/.config/muster/certs/ca.pem' },
    });
  });

  it('lets MUSTER_CONTEXT pick another context, and --context win over it', () => {
    expect(resolveHubSettings({}, { MUSTER_CONTEXT: 'dev' }, config, path).address).toBe(
      'dev.example:50051',
    );
    expect(
      resolveHubSettings({ context: 'prod' }, { MUSTER_CONTEXT: 'dev' }, config, path).address,
    ).toBe('prod.example:443');
  });

  it('lets MUSTER_HUB and MUSTER_TOKEN override the context, and flags override those', () => {
    const env = { MUSTER_HUB: 'env.example:1', MUSTER_TOKEN: 'env-token' };
    expect(resolveHubSettings({}, env, config, path)).toMatchObject({
      address: 'env.example:1',
      addressSource: 'MUSTER_HUB',
      token: 'env-token',
    });
    expect(
      resolveHubSettings({ hub: 'flag.example:2', token: 'flag-token' }, env, config, path),
    ).toMatchObject({
      address: 'flag.example:2',
      addressSource: '--hub',
      token: 'flag-token',
    });
  });

  it('falls back to the default hub without config', () => {
    expect(resolveHubSettings({}, {}, { contexts: [] }, path)).toEqual({
      address: DEFAULT_HUB,
      addressSource: 'the default',
    });
  });

  it('refuses an unknown context (not found) and a bad address (usage)', () => {
    expect(() => resolveHubSettings({ context: 'nope' }, {}, config, path)).toThrow(NotFoundError);
    expect(() => resolveHubSettings({ context: 'nope' }, {}, config, path)).toThrow(
      /--context names context "nope".*contexts: prod, dev/,
    );
    expect(() =>
      resolveHubSettings({}, {}, { currentContext: 'gone', contexts: [] }, path),
    ).toThrow(ConfigError);
    expect(() => resolveHubSettings({ hub: 'no-port' }, {}, config, path)).toThrow(UsageError);
    expect(() => resolveHubSettings({ hub: 'no-port' }, {}, config, path)).toThrow(
      '--hub: the hub address must be HOST:PORT',
    );
    expect(resolveHubSettings({ hub: '[::1]:50051' }, {}, config, path).address).toBe(
      '[::1]:50051',
    );
  });
});
