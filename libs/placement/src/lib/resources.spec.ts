import {
  addResources,
  compareResources,
  fits,
  formatResourceList,
  isExtendedResource,
  parseResourceList,
  parseResourceQuantity,
  scaleResources,
  shortfall,
  subtractResources,
} from './resources';

describe('parseResourceList', () => {
  it('parses a mixed request into milli-units', () => {
    expect(
      parseResourceList({
        cpu: '500m',
        memory: '1.5Gi',
        'nvidia.com/gpu': 8,
        'ephemeral-storage': '10G',
      }),
    ).toEqual({
      ok: true,
      value: {
        cpu: 500n,
        memory: 1610612736000n,
        'nvidia.com/gpu': 8000n,
        'ephemeral-storage': 10n ** 13n,
      },
    });
  });

  it('keeps milli precision for cpu but rounds other resources up to whole units', () => {
    expect(parseResourceList({ cpu: '0.0015', memory: '1.5', 'example.io/widget': '2' })).toEqual({
      ok: true,
      value: { cpu: 2n, memory: 2000n, 'example.io/widget': 2000n },
    });
    expect(parseResourceQuantity('memory', '100m')).toEqual({ ok: true, value: 1000n });
  });

  it('rejects fractional extended resources and names the resource', () => {
    const r = parseResourceList({ cpu: '1', 'nvidia.com/gpu': '0.5' }, 'podSets[1].requests');
    expect(r).toEqual({
      ok: false,
      error: {
        code: 'FractionalExtendedResource',
        field: 'podSets[1].requests["nvidia.com/gpu"]',
        message: expect.stringContaining('nvidia.com/gpu'),
      },
    });
  });

  it('accepts fractional native resources under kubernetes.io', () => {
    expect(isExtendedResource('kubernetes.io/batch-cpu')).toBe(false);
    expect(isExtendedResource('nvidia.com/gpu')).toBe(true);
    expect(isExtendedResource('memory')).toBe(false);
  });

  it('names the offending resource of a malformed quantity', () => {
    const r = parseResourceList({ cpu: '2', memory: '12 GB' }, 'requests');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('InvalidQuantity');
      expect(r.error.field).toBe('requests["memory"]');
      expect(r.error.message).toContain('"12 GB"');
    }
  });

  it('reports the first bad entry by name, whatever the key order', () => {
    const a = parseResourceList({ zeta: 'x', alpha: 'y' });
    const b = parseResourceList({ alpha: 'y', zeta: 'x' });
    expect(a).toEqual(b);
    expect(a.ok === false && a.error.field).toBe('resources["alpha"]');
  });

  it.each(['', 'Nvidia.com/gpu', 'a/b/c', '-cpu', '__proto__', 'gpu!'])(
    'rejects resource name %p',
    (name) => {
      const r = parseResourceList({ [name]: '1' });
      expect(r.ok === false && r.error.code).toBe('InvalidResourceName');
    },
  );

  it('rejects negative amounts and non-maps', () => {
    expect(parseResourceList({ cpu: '-1' }).ok).toBe(false);
    expect(parseResourceList(null as never).ok).toBe(false);
    expect(parseResourceList([] as never).ok).toBe(false);
  });
});

describe('resource list arithmetic', () => {
  const a = { cpu: 1500n, 'nvidia.com/gpu': 8000n };
  const b = { cpu: 500n, memory: 1000n };

  it('adds and subtracts per resource, treating missing names as zero', () => {
    expect(addResources(a, b)).toEqual({ cpu: 2000n, memory: 1000n, 'nvidia.com/gpu': 8000n });
    expect(subtractResources(a, b)).toEqual({
      cpu: 1000n,
      memory: -1000n,
      'nvidia.com/gpu': 8000n,
    });
  });

  it('scales by an integer', () => {
    expect(scaleResources(a, 3)).toEqual({ cpu: 4500n, 'nvidia.com/gpu': 24000n });
  });

  it('fits only when every resource fits', () => {
    expect(fits({ cpu: 1500n }, a)).toBe(true);
    expect(fits({ cpu: 1501n }, a)).toBe(false);
    expect(fits({ memory: 1n }, a)).toBe(false);
    expect(fits({ memory: 0n }, a)).toBe(true);
    expect(fits({}, {})).toBe(true);
  });

  it('lists the shortfall', () => {
    expect(shortfall({ cpu: 2000n, 'nvidia.com/gpu': 4000n, memory: 5n }, a)).toEqual({
      cpu: 500n,
      memory: 5n,
    });
  });

  it('compares as a partial order', () => {
    expect(compareResources({ cpu: 1n }, { cpu: 1n, memory: 0n })).toBe('equal');
    expect(compareResources({ cpu: 1n }, { cpu: 2n })).toBe('less');
    expect(compareResources({ cpu: 3n }, { cpu: 2n })).toBe('greater');
    expect(compareResources(a, b)).toBe('incomparable');
  });

  it('formats in name order without zeros', () => {
    expect(formatResourceList({ memory: 2n ** 30n * 64000n, cpu: 8000n, 'x.io/y': 0n })).toBe(
      'cpu=8, memory=64Gi',
    );
  });
});
