import { UtilisationBucket, UtilisationGroupBy } from '@muster/api';
import { ErrorCode, MusterError } from '../common/errors';
import { utilisationReport, type UtilisationQuery } from './utilisation';
import { utilisationQueryToDomain } from './utilisation.mapper';

const H = 3_600_000;
const T0 = new Date('2026-12-01T10:00:00Z');
const at = (hours: number) => new Date(T0.getTime() + hours * H);
const GPU_HOUR = 1000 * 3600;

const query: UtilisationQuery = {
  since: at(0.5),
  until: at(3),
  untilNow: false,
  resource: 'nvidia.com/gpu',
  groupBy: 'cluster',
  bucket: 'hour',
  queues: null,
};

describe('utilisationReport', () => {
  it('fills every bucket of the range, sums groups into a total and gives the ratio', () => {
    const r = utilisationReport(query, [
      { group: 'b', bucket: at(0), allocated: 4 * GPU_HOUR, capacity: 8 * GPU_HOUR },
      { group: 'a', bucket: at(2), allocated: 2 * GPU_HOUR, capacity: 8 * GPU_HOUR },
      { group: 'a', bucket: at(5), allocated: 9 * GPU_HOUR, capacity: 9 * GPU_HOUR },
    ]);
    expect(r.since).toEqual(at(0));
    expect(r.groups.map((g) => g.name)).toEqual(['a', 'b']);
    expect(r.groups[0]!.buckets.map((b) => b.figures.allocatedHours)).toEqual([0, 0, 2]);
    expect(r.groups[0]!.total).toEqual({ allocatedHours: 2, capacityHours: 8, ratio: 0.25 });
    expect(r.groups[0]!.buckets[0]!.figures).toEqual({ allocatedHours: 0, capacityHours: 0 });
    expect(r.total.total).toEqual({ allocatedHours: 6, capacityHours: 16, ratio: 0.375 });
  });

  it('sums hours into days, and gives no capacity by queue', () => {
    const r = utilisationReport({ ...query, groupBy: 'queue', bucket: 'day', until: at(30) }, [
      { group: 'q', bucket: at(1), allocated: GPU_HOUR, capacity: null },
      { group: 'q', bucket: at(2), allocated: GPU_HOUR, capacity: null },
    ]);
    expect(r.groups[0]!.buckets).toEqual([
      { start: new Date('2026-12-01T00:00:00Z'), figures: { allocatedHours: 2 } },
      { start: new Date('2026-12-02T00:00:00Z'), figures: { allocatedHours: 0 } },
    ]);
  });
});

describe('utilisationQueryToDomain', () => {
  const now = at(10);
  const field = (req: Parameters<typeof utilisationQueryToDomain>[0]) => {
    try {
      utilisationQueryToDomain(req, now);
    } catch (e) {
      if (e instanceof MusterError && e.code === ErrorCode.InvalidArgument) return e.field;
      throw e;
    }
    return undefined;
  };
  const base = { groupBy: 0, bucket: 0 };

  it.each([
    ['no since', { ...base }, 'since'],
    ['until before since', { ...base, since: at(5), until: at(4) }, 'until'],
    ['unknown group_by', { ...base, since: at(1), groupBy: 7 as UtilisationGroupBy }, 'group_by'],
    ['unknown bucket', { ...base, since: at(1), bucket: 9 as UtilisationBucket }, 'bucket'],
    ['empty resource', { ...base, since: at(1), resource: '' }, 'resource'],
  ])('refuses %s naming the field', (_what, req, expected) => {
    expect(field(req)).toBe(expected);
  });

  it('defaults to GPUs by cluster and hour, until now', () => {
    expect(utilisationQueryToDomain({ ...base, since: at(1) }, now)).toEqual({
      since: at(1),
      until: now,
      untilNow: true,
      resource: 'nvidia.com/gpu',
      groupBy: 'cluster',
      bucket: 'hour',
    });
    expect(
      utilisationQueryToDomain(
        {
          since: at(1),
          until: at(2),
          groupBy: UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE,
          bucket: UtilisationBucket.UTILISATION_BUCKET_DAY,
        },
        now,
      ),
    ).toMatchObject({ untilNow: false, groupBy: 'queue', bucket: 'day' });
  });
});
