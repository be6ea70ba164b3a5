import { FieldOrigins } from './field-origins';

describe('FieldOrigins', () => {
  const origins = new FieldOrigins();
  origins.set('spec.pod_sets[1]', {
    kind: 'path',
    path: 'spec.replicatedJobs[1].template.spec.template',
  });
  origins.set('spec.pod_sets[1].count', { kind: 'path', path: 'spec.replicatedJobs[1].replicas' });
  origins.set('spec.pod_sets[10].count', {
    kind: 'path',
    path: 'spec.replicatedJobs[10].replicas',
  });
  origins.set('spec.queue', { kind: 'flag', flag: '--queue' });

  it('uses the longest prefix and keeps the rest of the path', () => {
    expect(origins.locate('spec.pod_sets[1].count')).toBe('spec.replicatedJobs[1].replicas');
    expect(origins.locate('spec.pod_sets[1].topology.level')).toBe(
      'spec.replicatedJobs[1].template.spec.template.topology.level',
    );
  });

  it('matches whole path segments only', () => {
    expect(origins.locate('spec.pod_sets[10].count')).toBe('spec.replicatedJobs[10].replicas');
    expect(origins.locate('spec.pod_sets[1]0')).toBeUndefined();
    expect(origins.locate('spec.queues')).toBeUndefined();
  });

  it('names the flag for a field given on the command line', () => {
    expect(origins.locate('spec.queue')).toBe('--queue');
  });
});
