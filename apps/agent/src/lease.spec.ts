import { StreamEcho } from './lease';

describe('StreamEcho', () => {
  it('counts a HelloAck, and messages sent before any ping arrived, from the Hello', () => {
    const e = new StreamEcho(100);
    expect(e.aliveSince({ heartbeatEcho: 0, helloAck: true }, 5_000)).toBe(100);
    e.acknowledged(true);
    expect(e.aliveSince({ heartbeatEcho: 0, helloAck: false }, 5_000)).toBe(100);
  });

  it('counts a message from the ping it echoes, however late it arrives', () => {
    const e = new StreamEcho(0);
    e.acknowledged(true);
    e.sent(1, 500);
    e.sent(2, 1_000);
    // Held up in the network for 16 s: it proves the hub alive at 500, not at arrival.
    expect(e.aliveSince({ heartbeatEcho: 1, helloAck: false }, 17_000)).toBe(500);
    expect(e.aliveSince({ heartbeatEcho: 2, helloAck: false }, 1_010)).toBe(1_000);
    // An echo of a ping this stream never sent (or one long forgotten) proves nothing.
    expect(e.aliveSince({ heartbeatEcho: 9, helloAck: false }, 1_010)).toBeUndefined();
  });

  it('forgets the oldest pings beyond what it keeps', () => {
    const e = new StreamEcho(0);
    e.acknowledged(true);
    for (let p = 1; p <= 1_025; p++) e.sent(p, p);
    expect(e.aliveSince({ heartbeatEcho: 1, helloAck: false }, 2_000)).toBeUndefined();
    expect(e.aliveSince({ heartbeatEcho: 2, helloAck: false }, 2_000)).toBe(2);
  });

  it('counts from the arrival with a hub that does not echo', () => {
    const e = new StreamEcho(0);
    e.acknowledged(false);
    e.sent(1, 500);
    expect(e.aliveSince({ heartbeatEcho: 0, helloAck: false }, 7_000)).toBe(7_000);
  });
});
