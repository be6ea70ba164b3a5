import { quotaResourceError } from './names';

describe('quotaResourceError', () => {
  it('takes resource names, device class counts and resources scoped to a cluster set', () => {
    for (const ok of [
      'cpu',
      'nvidia.com/gpu',
      'gpu.nvidia.com.deviceclass.resource.k8s.io/devices',
      'east:nvidia.com/gpu',
      'eu-west-1:cpu',
    ])
      expect(quotaResourceError(ok)).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(quotaResourceError('nvidia.com/gpu/x')).toMatch(
      /^"nvidia.com\/gpu\/x" is not a resource name/,
    );
    expect(quotaResourceError('East:cpu')).toMatch(/^cluster set "East" must be a DNS-1123 label/);
    expect(quotaResourceError(':cpu')).toBe('cluster set "" must not be empty');
    expect(quotaResourceError('east:')).toMatch(/^"" is not a resource name/);
    expect(quotaResourceError('east:a:cpu')).toMatch(/^"a:cpu" is not a resource name/);
  });
});
