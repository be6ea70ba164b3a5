import type { ConnectRequest } from '@muster/api';
import { unusableAgentMessage } from './agent-stream-guard';

const ID = '0b6f3c1e-8d2a-4f5b-9c7d-1e2f3a4b5c6d';

describe('unusableAgentMessage', () => {
  it('refuses every gang id an agent echoes that the hub cannot have sent, naming the field', () => {
    const cases: [ConnectRequest['message'], string][] = [
      [
        {
          $case: 'dispatchAnswer',
          dispatchAnswer: { gangId: 'x', fencingToken: 1, outcome: 0, reason: '', message: '' },
        },
        'dispatch_answer.gang_id',
      ],
      [
        { $case: 'evictionNoticed', evictionNoticed: { gangId: '', fencingToken: 0, members: 0 } },
        'eviction_noticed.gang_id',
      ],
    ];
    for (const [message, field] of cases) {
      expect(unusableAgentMessage({ message } as ConnectRequest)).toBe(
        `${field}: must be a gang id the hub sent (a UUID)`,
      );
    }
    expect(
      unusableAgentMessage({
        message: {
          $case: 'evictionNoticed',
          evictionNoticed: { gangId: ID, fencingToken: 3, members: 2 },
        },
      } as ConnectRequest),
    ).toBeUndefined();
  });
});
