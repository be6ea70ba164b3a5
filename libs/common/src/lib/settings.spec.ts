import { ConfigError, settingValues } from './settings';

describe('ConfigError.of', () => {
  it('names each setting at fault, with the index inside a list', () => {
    const err = ConfigError.of([
      { path: ['MUSTER_A'], message: 'must be an integer of at least 1 (got "x")' },
      { path: ['MUSTER_LIST', 2], message: '"b c" is not a name' },
      { path: [], message: 'MUSTER_A + MUSTER_B must be below MUSTER_C' },
    ]);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(err.message).toBe(
      'MUSTER_A: must be an integer of at least 1 (got "x"); MUSTER_LIST[2]: "b c" is not a name; MUSTER_A + MUSTER_B must be below MUSTER_C',
    );
  });

  it('is a plain error when made from one message', () => {
    expect(new ConfigError('MUSTER_TLS_CERT_FILE: cannot read x').message).toBe(
      'MUSTER_TLS_CERT_FILE: cannot read x',
    );
  });
});

describe('settingValues', () => {
  it('takes only the named settings, trimmed, and a blank one as unset', () => {
    expect(
      settingValues({ MUSTER_A: ' 5 ', MUSTER_B: '  ', MUSTER_C: '', OTHER: 'x' }, [
        'MUSTER_A',
        'MUSTER_B',
        'MUSTER_C',
        'MUSTER_D',
      ]),
    ).toEqual({ MUSTER_A: '5', MUSTER_B: undefined, MUSTER_C: undefined, MUSTER_D: undefined });
  });
});
