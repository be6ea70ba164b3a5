import { chooseQueue, parseQueueRules, queueRuleError } from './queue-rules';

describe('front door queue rules', () => {
  it('takes the first rule that matches the namespace and the label', () => {
    const rules = parseQueueRules([
      'team-a/urgent=serve',
      'team-a/*=research',
      'sandbox=-',
      '*/*=*',
    ]);
    expect(chooseQueue(rules, 'team-a', 'urgent')).toEqual({
      queue: 'serve',
      rule: 'team-a/urgent=serve',
    });
    expect(chooseQueue(rules, 'team-a', 'anything')).toMatchObject({ queue: 'research' });
    expect(chooseQueue(rules, 'team-b', 'main')).toMatchObject({ queue: 'main' });
    expect(chooseQueue(rules, 'sandbox', 'main')).toEqual({
      refused:
        'namespace sandbox may not submit to queue "main" (rule "sandbox=-" of MUSTER_FRONT_DOOR_QUEUES)',
    });
  });

  it('refuses what no rule takes', () => {
    expect(chooseQueue(parseQueueRules(['team-a=research']), 'team-b', 'main')).toEqual({
      refused: 'no rule of MUSTER_FRONT_DOOR_QUEUES takes namespace team-b with queue "main"',
    });
  });

  it.each([
    ['team-a', '"team-a" is not NAMESPACE[/LABEL]=QUEUE'],
    ['Team/x=y', 'rule "Team/x=y": namespace "Team" must be a DNS-1123 label'],
    ['a/B=y', 'rule "a/B=y": label "B" must be a DNS-1123 label'],
    ['a=Q_1', 'rule "a=Q_1": queue "Q_1" must be a DNS-1123 label'],
  ])('names what is wrong with %s', (rule, problem) => {
    expect(queueRuleError(rule)).toContain(problem);
  });

  it('accepts the default and the special queues', () => {
    for (const rule of ['*/*=*', 'a=-', 'a/b=c', '*=main'])
      expect(queueRuleError(rule)).toBe(undefined);
  });
});
