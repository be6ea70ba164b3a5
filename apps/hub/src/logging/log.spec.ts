import { createLog } from '@muster/log';
import { NestLog } from './log';

function nest() {
  const out: string[] = [];
  const log = new NestLog(
    createLog({ level: 'debug', destination: { write: (s: string) => void out.push(s) } }),
  );
  return { log, lines: () => out.map((s) => JSON.parse(s) as Record<string, unknown>) };
}

describe('NestLog', () => {
  it("names Nest's context as the component", () => {
    const { log, lines } = nest();
    log.log('Nest application successfully started', 'NestApplication');
    log.verbose('resolved');
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'info',
        component: 'NestApplication',
        msg: 'Nest application successfully started',
      }),
      expect.objectContaining({ level: 'debug', msg: 'resolved' }),
    ]);
    expect(lines()[1]).not.toHaveProperty('component');
  });

  it('writes an error thrown at Nest, or the stack Nest passes, under err', () => {
    const { log, lines } = nest();
    log.error(new Error('connect ECONNREFUSED'), undefined, 'ExceptionHandler');
    log.error('module failed', 'Error: module failed\n    at x', 'InstanceLoader');
    const [thrown, stack] = lines();
    expect(thrown).toMatchObject({
      level: 'error',
      component: 'ExceptionHandler',
      msg: 'connect ECONNREFUSED',
      err: { type: 'Error', message: 'connect ECONNREFUSED' },
    });
    expect(stack).toMatchObject({
      component: 'InstanceLoader',
      msg: 'module failed',
      err: 'Error: module failed\n    at x',
    });
  });
});
