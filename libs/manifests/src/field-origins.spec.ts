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

  it('adds the line, and names another document a field came from', () => {
    const lines = (path: string) => (path.startsWith('spec.parallelism') ? 6 : undefined);
    const withLines = new FieldOrigins(lines);
    withLines.set('spec.pod_sets[0].count', { kind: 'path', path: 'spec.parallelism' });
    withLines.set('spec.resource_claim_templates[0].spec_json', {
      kind: 'path',
      path: 'spec.spec',
      document: { source: 'dra.yaml (document 1)', lines: () => 11 },
    });
    expect(withLines.locate('spec.pod_sets[0].count')).toBe('spec.parallelism, line 6');
    expect(withLines.locate('spec.resource_claim_templates[0].spec_json.devices')).toBe(
      'spec.spec.devices in dra.yaml (document 1), line 11',
    );
  });
});
