import fc from 'fast-check';
import { checkPodPolicy, defaultPodPolicy, podPolicyOf, POD_POLICY_RULES } from './pod-policy';
import { checkPodTemplate } from './pod-template';

const container = (extra: Record<string, unknown> = {}) => ({
  name: 'main',
  image: 'registry.example/train:1',
  ...extra,
});
const template = (spec: Record<string, unknown> = {}, c: Record<string, unknown> = {}) => ({
  spec: { containers: [container(c)], ...spec },
});

const policy = defaultPodPolicy();

describe('checkPodPolicy', () => {
  it('passes an ordinary training pod', () => {
    expect(
      checkPodPolicy(
        template(
          { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'd' } }] },
          {
            securityContext: {
              privileged: false,
              allowPrivilegeEscalation: false,
              capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
            },
            ports: [{ containerPort: 8080 }],
          },
        ),
        policy,
      ),
    ).toBeUndefined();
  });

  it.each([
    [
      template({}, { securityContext: { privileged: true } }),
      'no-privileged',
      'spec.containers[0].securityContext.privileged',
    ],
    [
      template({}, { securityContext: { allowPrivilegeEscalation: true } }),
      'no-privilege-escalation',
      'spec.containers[0].securityContext.allowPrivilegeEscalation',
    ],
    [template({ hostNetwork: true }), 'no-host-namespaces', 'spec.hostNetwork'],
    [template({ hostPID: true }), 'no-host-namespaces', 'spec.hostPID'],
    [template({ hostIPC: 'yes' }), 'no-host-namespaces', 'spec.hostIPC'],
    [
      template({
        volumes: [
          { name: 'x', emptyDir: {} },
          { name: 'h', hostPath: { path: '/' } },
        ],
      }),
      'no-host-path',
      'spec.volumes[1].hostPath',
    ],
    [
      template({}, { ports: [{ containerPort: 80, hostPort: 80 }] }),
      'no-host-ports',
      'spec.containers[0].ports[0].hostPort',
    ],
    [
      template({}, { securityContext: { capabilities: { add: ['CHOWN', 'SYS_ADMIN'] } } }),
      'allowed-capabilities',
      'spec.containers[0].securityContext.capabilities.add[1]',
    ],
    [
      template({}, { securityContext: { capabilities: { add: ['ALL'] } } }),
      'allowed-capabilities',
      'spec.containers[0].securityContext.capabilities.add[0]',
    ],
    [
      {
        spec: {
          containers: [container()],
          initContainers: [container({ name: 'init', securityContext: { privileged: true } })],
        },
      },
      'no-privileged',
      'spec.initContainers[0].securityContext.privileged',
    ],
  ])('refuses %#: rule %s at %s', (t, rule, field) => {
    const v = checkPodPolicy(t, policy);
    expect(v).toMatchObject({ rule, field });
    expect(v!.message).toContain(`(policy rule "${rule}")`);
  });

  it('accepts CAP_-prefixed and lower-case names of allowed capabilities', () => {
    expect(
      checkPodPolicy(
        template({}, { securityContext: { capabilities: { add: ['cap_chown', 'Kill'] } } }),
        policy,
      ),
    ).toBeUndefined();
  });

  it('can turn rules off and change the capability list', () => {
    const relaxed = podPolicyOf(['no-host-path'], ['SYS_PTRACE']);
    expect(checkPodPolicy(template({ volumes: [{ hostPath: { path: '/x' } }] }), relaxed)).toBe(
      undefined,
    );
    expect(
      checkPodPolicy(
        template({}, { securityContext: { capabilities: { add: ['SYS_PTRACE'] } } }),
        relaxed,
      ),
    ).toBeUndefined();
    expect(
      checkPodPolicy(
        template({}, { securityContext: { capabilities: { add: ['CHOWN'] } } }),
        relaxed,
      ),
    ).toMatchObject({ rule: 'allowed-capabilities' });
    expect(() => podPolicyOf(['no-such-rule'])).toThrow(/unknown pod policy rule/);
  });

  it('never throws, whatever the template (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (spec) => {
        checkPodPolicy({ spec }, policy);
        checkPodPolicy(spec, policy);
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('with every rule off, passes everything', () => {
    const none = podPolicyOf([...POD_POLICY_RULES]);
    expect(
      checkPodPolicy(
        template(
          { hostNetwork: true, volumes: [{ hostPath: {} }] },
          { securityContext: { privileged: true, capabilities: { add: ['ALL'] } } },
        ),
        none,
      ),
    ).toBeUndefined();
  });
});

describe('checkPodTemplate metadata and strings', () => {
  const withMeta = (metadata: Record<string, unknown>) => ({ metadata, spec: template().spec });

  it('checks label keys and values and the size of labels plus annotations', () => {
    expect(checkPodTemplate(withMeta({ labels: { app: 'train' } })).ok).toBe(true);
    const bad = (m: Record<string, unknown>, limits = {}) => {
      const r = checkPodTemplate(withMeta(m), limits);
      return r.ok ? undefined : r.violation;
    };
    expect(bad({ labels: { 'bad key!': 'x' } })?.field).toMatch(/^metadata\.labels\./);
    expect(bad({ labels: { app: 'x'.repeat(64) } })?.message).toMatch(/at most 63/);
    expect(bad({ labels: { app: 3 } })?.message).toMatch(/must be a string/);
    expect(bad({ annotations: 'x' })?.field).toBe('metadata.annotations');
    expect(bad({ annotations: { note: 'x'.repeat(2000) } }, { maxMetadataBytes: 1000 })).toEqual({
      field: 'metadata',
      message: 'labels and annotations must total at most 1000 bytes (got 2004)',
    });
    expect(
      bad({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) })
        ?.message,
    ).toMatch(/at most 64 labels/);
  });

  it('refuses NUL characters and unpaired surrogates anywhere, naming the field', () => {
    const r = checkPodTemplate(template({}, { env: [{ name: 'A', value: 'x\u0000y' }] }));
    expect(r).toEqual({
      ok: false,
      violation: {
        field: 'spec.containers[0].env[0].value',
        message: 'must not contain NUL characters',
      },
    });
    const s = checkPodTemplate(template({}, { command: ['\ud800'] }));
    expect(s.ok ? '' : s.violation.message).toMatch(/unpaired surrogate/);
    expect(checkPodTemplate(template({}, { command: ['🚀 ok'] })).ok).toBe(true);
  });
});
