import {
  ClusterAccessError,
  kubeConfigOptions,
  parseAccessProviderFile,
  resolveClusterAccess,
  selectAccessProvider,
  type AccessProviderFile,
} from './cluster-profile.access';
import {
  ADDITIONAL_ARGS_EXTENSION_KEY,
  ADDITIONAL_ENVS_EXTENSION_KEY,
  EXEC_EXTENSION_KEY,
  type ClusterProfile,
  type ProfileAccessProvider,
} from './cluster-profile.types';

function profile(status: ClusterProfile['status']): ClusterProfile {
  return {
    apiVersion: 'multicluster.x-k8s.io/v1alpha1',
    kind: 'ClusterProfile',
    metadata: { name: 'gpu-east', namespace: 'inventory' },
    spec: { clusterManager: { name: 'muster' } },
    status,
  };
}

const provider = (name: string, server = 'https://10.0.0.1:6443'): ProfileAccessProvider => ({
  name,
  cluster: { server, 'certificate-authority-data': 'Q0E=' },
});

function file(providers: unknown[]): AccessProviderFile {
  return parseAccessProviderFile({ providers });
}

const tokenPlugin = {
  name: 'muster-token',
  execConfig: {
    apiVersion: 'client.authentication.k8s.io/v1',
    command: 'node',
    args: ['plugin.mjs'],
    env: [{ name: 'A', value: 'file' }],
    provideClusterInfo: true,
  },
};

describe('parseAccessProviderFile', () => {
  it('reads providers and forces non-interactive plugins', () => {
    const f = file([tokenPlugin]);
    expect(f.providers[0]!.execConfig).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'node',
      args: ['plugin.mjs'],
      env: [{ name: 'A', value: 'file' }],
      provideClusterInfo: true,
      interactiveMode: 'Never',
    });
  });

  it.each([
    ['no providers list', {}, 'providers'],
    [
      'a nameless provider',
      { providers: [{ execConfig: tokenPlugin.execConfig }] },
      'providers[0].name',
    ],
    ['a provider without execConfig', { providers: [{ name: 'x' }] }, 'providers[0].execConfig'],
    [
      'an unknown exec apiVersion',
      { providers: [{ name: 'x', execConfig: { ...tokenPlugin.execConfig, apiVersion: 'v9' } }] },
      'providers[0].execConfig.apiVersion',
    ],
    ['a duplicate name', { providers: [tokenPlugin, tokenPlugin] }, 'providers[1].name'],
    [
      'an unknown env policy',
      { providers: [{ ...tokenPlugin, profileSourcedEnvVarsPolicy: 'Sometimes' }] },
      'providers[0].profileSourcedEnvVarsPolicy',
    ],
  ])('rejects %s', (_what, input, field) => {
    let caught: unknown;
    try {
      parseAccessProviderFile(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ClusterAccessError);
    expect((caught as ClusterAccessError).field).toBe(field);
  });
});

describe('selectAccessProvider', () => {
  it('takes the first provider of the file that the profile publishes', () => {
    const f = file([
      { ...tokenPlugin, name: 'gke' },
      { ...tokenPlugin, name: 'muster-token' },
    ]);
    const p = profile({
      accessProviders: [provider('muster-token'), provider('gke', 'https://g')],
    });
    expect(selectAccessProvider(p, f)!.provider.cluster.server).toBe('https://g');
  });

  it('falls back to the deprecated credentialProviders; accessProviders wins on a clash', () => {
    const f = file([tokenPlugin]);
    const old = profile({ credentialProviders: [provider('muster-token', 'https://old')] });
    expect(selectAccessProvider(old, f)).toMatchObject({
      fromCredentialProviders: true,
      provider: { cluster: { server: 'https://old' } },
    });
    const both = profile({
      credentialProviders: [provider('muster-token', 'https://old')],
      accessProviders: [provider('muster-token', 'https://new')],
    });
    expect(selectAccessProvider(both, f)).toMatchObject({
      fromCredentialProviders: false,
      provider: { cluster: { server: 'https://new' } },
    });
  });

  it('finds nothing when no name matches', () => {
    expect(
      selectAccessProvider(profile({ accessProviders: [provider('other')] }), file([tokenPlugin])),
    ).toBeUndefined();
    expect(selectAccessProvider(profile(undefined), file([tokenPlugin]))).toBeUndefined();
  });
});

describe('resolveClusterAccess', () => {
  it('passes the cluster and the exec extension in KUBERNETES_EXEC_INFO', () => {
    const p = profile({
      accessProviders: [
        {
          name: 'muster-token',
          cluster: {
            server: 'https://10.0.0.1:6443',
            'certificate-authority-data': 'Q0E=',
            'tls-server-name': 'api.internal',
            extensions: [{ name: EXEC_EXTENSION_KEY, extension: { audience: 'muster' } }],
          },
        },
      ],
    });
    const access = resolveClusterAccess(p, file([tokenPlugin]));
    const info = access.exec.env!.find((e) => e.name === 'KUBERNETES_EXEC_INFO');
    expect(JSON.parse(info!.value)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: {
          server: 'https://10.0.0.1:6443',
          'certificate-authority-data': 'Q0E=',
          'tls-server-name': 'api.internal',
          config: { audience: 'muster' },
        },
      },
    });
    expect(access.exec.env!.find((e) => e.name === 'A')!.value).toBe('file');
  });

  it('leaves the cluster out of KUBERNETES_EXEC_INFO without provideClusterInfo', () => {
    const f = file([
      { ...tokenPlugin, execConfig: { ...tokenPlugin.execConfig, provideClusterInfo: false } },
    ]);
    const access = resolveClusterAccess(
      profile({ accessProviders: [provider('muster-token')] }),
      f,
    );
    const info = JSON.parse(access.exec.env!.find((e) => e.name === 'KUBERNETES_EXEC_INFO')!.value);
    expect(info.spec).toEqual({ interactive: false });
  });

  it('applies profile-sourced args and env only when the provider file allows it', () => {
    const p = profile({
      accessProviders: [
        {
          name: 'muster-token',
          cluster: {
            server: 'https://10.0.0.1:6443',
            extensions: [
              { name: ADDITIONAL_ARGS_EXTENSION_KEY, extension: ['--cluster', 'east'] },
              { name: ADDITIONAL_ENVS_EXTENSION_KEY, extension: { A: 'profile', B: 'profile' } },
            ],
          },
        },
      ],
    });
    const ignored = resolveClusterAccess(p, file([tokenPlugin]));
    expect(ignored.exec.args).toEqual(['plugin.mjs']);
    expect(ignored.exec.env!.map((e) => e.name)).toEqual(['A', 'KUBERNETES_EXEC_INFO']);

    const append = resolveClusterAccess(
      p,
      file([
        {
          ...tokenPlugin,
          profileSourcedCLIArgsPolicy: 'Append',
          profileSourcedEnvVarsPolicy: 'AppendIfNotExists',
        },
      ]),
    );
    expect(append.exec.args).toEqual(['plugin.mjs', '--cluster', 'east']);
    const env = (a: typeof append) =>
      Object.fromEntries(
        a.exec.env!.filter((e) => e.name !== 'KUBERNETES_EXEC_INFO').map((e) => [e.name, e.value]),
      );
    expect(env(append)).toEqual({ A: 'file', B: 'profile' });

    const replace = resolveClusterAccess(
      p,
      file([{ ...tokenPlugin, profileSourcedEnvVarsPolicy: 'Replace' }]),
    );
    expect(env(replace)).toEqual({ A: 'profile', B: 'profile' });
  });

  it('refuses a profile without a usable server', () => {
    const bad = profile({ accessProviders: [provider('muster-token', 'not a url')] });
    expect(() => resolveClusterAccess(bad, file([tokenPlugin]))).toThrow(
      /status\.accessProviders\[name=muster-token\]\.cluster\.server/,
    );
    expect(() => resolveClusterAccess(profile({}), file([tokenPlugin]))).toThrow(
      ClusterAccessError,
    );
  });
});

describe('kubeConfigOptions', () => {
  it('gives one cluster, one exec user and one context named after the profile', () => {
    const access = resolveClusterAccess(
      profile({
        accessProviders: [
          {
            name: 'muster-token',
            cluster: {
              server: 'https://10.0.0.1:6443/',
              'certificate-authority-data': 'Q0E=',
              'proxy-url': 'http://proxy:3128',
            },
          },
        ],
      }),
      file([tokenPlugin]),
    );
    const o = kubeConfigOptions(access);
    expect(o.currentContext).toBe('inventory/gpu-east/muster-token');
    expect(o.clusters).toEqual([
      {
        name: 'inventory/gpu-east/muster-token',
        server: 'https://10.0.0.1:6443',
        skipTLSVerify: false,
        caData: 'Q0E=',
        proxyUrl: 'http://proxy:3128',
      },
    ]);
    expect(o.users[0]!.exec).toMatchObject({ command: 'node', interactiveMode: 'Never' });
    expect(o.contexts[0]).toEqual({
      name: 'inventory/gpu-east/muster-token',
      cluster: 'inventory/gpu-east/muster-token',
      user: 'inventory/gpu-east/muster-token',
    });
  });
});
