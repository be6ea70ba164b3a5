import { status } from '@grpc/grpc-js';
import {
  InventoryServiceService,
  UtilisationBucket,
  UtilisationGroupBy,
  type GetUtilisationRequest,
  type GetUtilisationResponse,
} from '@muster/api';
import { StandInHub } from '../testing/stand-in-hub';
import { runCapturing } from '../testing/run-cli';
import { sparkline } from '../output/utilisation-views';

const now = new Date('2025-01-08T12:00:00Z');
const run = (argv: string[]) => runCapturing(argv, { now });
const h = (n: number) => new Date(Date.UTC(2025, 0, 8, 9 + n));

/** Answers GetUtilisation with two clusters over three hours, recording each request. */
class StandInUtilisation extends StandInHub {
  async start(): Promise<this> {
    const reply = this.reply.bind(this);
    return this.serve(InventoryServiceService, {
      getUtilisation: reply('getUtilisation', (req: GetUtilisationRequest) => {
        if (req.resource === 'bad')
          return { code: status.INVALID_ARGUMENT, details: 'resource: must be a resource name' };
        const bucket = (n: number, allocatedHours: number, capacityHours: number) => ({
          start: h(n),
          figures: { allocatedHours, capacityHours, ratio: allocatedHours / capacityHours },
        });
        const response: GetUtilisationResponse = {
          since: h(0),
          until: h(3),
          resource: req.resource ?? 'nvidia.com/gpu',
          groupBy: UtilisationGroupBy.UTILISATION_GROUP_BY_CLUSTER,
          bucket: UtilisationBucket.UTILISATION_BUCKET_HOUR,
          groups: [
            {
              name: 'gpu-a',
              total: { allocatedHours: 12, capacityHours: 24, ratio: 0.5 },
              buckets: [bucket(0, 0, 8), bucket(1, 4, 8), bucket(2, 8, 8)],
            },
            {
              name: 'gpu-b',
              total: { allocatedHours: 0, capacityHours: 48, ratio: 0 },
              buckets: [bucket(0, 0, 16), bucket(1, 0, 16), bucket(2, 0, 16)],
            },
          ],
          total: {
            name: 'total',
            total: { allocatedHours: 12, capacityHours: 72, ratio: 1 / 6 },
            buckets: [bucket(0, 0, 24), bucket(1, 4, 24), bucket(2, 8, 24)],
          },
        };
        return response;
      }),
    });
  }
}

describe('muster report utilisation, against a stand-in hub', () => {
  let hub: StandInUtilisation;
  beforeAll(async () => (hub = await new StandInUtilisation().start()));
  afterAll(() => hub.stop());
  beforeEach(() => hub.calls.splice(0));
  const muster = (...argv: string[]) => run(['--hub', hub.address, ...argv]);
  const sent = () => hub.calls[hub.calls.length - 1]![1] as GetUtilisationRequest;

  it('asks for an age before now and prints the table with a chart per cluster', async () => {
    const r = await muster('report', 'utilisation', '--since', '7d');
    expect(r.code).toBe(0);
    expect(sent()).toMatchObject({
      since: new Date('2025-01-01T12:00:00Z'),
      resource: 'nvidia.com/gpu',
      groupBy: UtilisationGroupBy.UTILISATION_GROUP_BY_CLUSTER,
      bucket: UtilisationBucket.UTILISATION_BUCKET_HOUR,
    });
    expect(sent().until).toBeUndefined();
    expect(r.stdout).toBe(
      [
        'nvidia.com/gpu from 2025-01-08T09:00:00.000Z to 2025-01-08T12:00:00.000Z',
        'CLUSTER  ALLOCATED (h)  CAPACITY (h)  UTILISATION',
        'gpu-a    12.0           24.0          50.0%',
        'gpu-b    0.00           48.0          0.0%',
        'TOTAL    12.0           72.0          16.7%',
        '',
        'utilisation per hour, 2025-01-08T09:00:00.000Z … 2025-01-08T11:00:00.000Z',
        'gpu-a  │ ▄█│',
        'gpu-b  │   │',
        '',
      ].join('\n'),
    );
  });

  it('sends the grouping, bucket, resource and until, and prints CSV', async () => {
    const r = await muster(
      'report',
      'utilisation',
      '--since',
      '2025-01-01',
      '--until',
      '2025-01-02T00:00:00Z',
      '--by',
      'queue',
      '--bucket',
      'day',
      '--resource',
      'cpu',
      '-o',
      'csv',
    );
    expect(r.code).toBe(0);
    expect(sent()).toEqual({
      since: new Date('2025-01-01T00:00:00Z'),
      until: new Date('2025-01-02T00:00:00Z'),
      resource: 'cpu',
      groupBy: UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE,
      bucket: UtilisationBucket.UTILISATION_BUCKET_DAY,
    });
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('group,bucket_start,allocated_hours,capacity_hours,ratio');
    expect(lines[2]).toBe('gpu-a,2025-01-08T10:00:00.000Z,4,8,0.5');
    expect(lines).toHaveLength(1 + 9);
  });

  it('refuses a time it cannot read, and shows the hub’s refusal', async () => {
    const bad = await muster('report', 'utilisation', '--since', 'last week');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since');
    expect(hub.calls).toHaveLength(0);
    const refused = await muster('report', 'utilisation', '--since', '1d', '--resource', 'bad');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('resource: must be a resource name');
  });
});

describe('sparkline', () => {
  it('draws nothing as a space, a little as the lowest block and the most as the highest', () => {
    expect(sparkline([0, 0.01, 0.5, 1, 2], 1)).toBe(' ▁▄██');
  });
  it('merges more buckets than fit into averages', () => {
    expect(
      sparkline(
        Array.from({ length: 144 }, (_, i) => (i < 72 ? 0 : 1)),
        1,
      ),
    ).toHaveLength(72);
  });
});
