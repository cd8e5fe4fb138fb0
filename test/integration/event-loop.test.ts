import { lastValueFrom, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, endpoint, startBus } from '../support/bus.js';

const COUNT = 20_000;

// Nobody subscribes, so every message is dropped inside libzmq and each send completes at once:
// only the client itself can let the event loop turn while it works through the emits.
describe.each(['drop', 'block'] as const)('publishing with backpressure %s', (backpressure) => {
  let bus: Bus | undefined;
  afterEach(async () => bus?.close());

  async function sentWhenTheLoopTurns(work: () => Promise<void>): Promise<number | undefined> {
    let sent: number | undefined;
    setImmediate(() => (sent = bus!.client.getStats().sent));
    await work();
    return sent;
  }

  it(`lets the event loop turn during a burst of ${COUNT.toLocaleString('en')} emits`, async () => {
    bus = await startBus({ pubAddress: await endpoint('tcp'), backpressure });
    const sent = await sentWhenTheLoopTurns(async () => {
      let last: Observable<unknown> | undefined;
      for (let i = 0; i < COUNT; i++) last = bus!.client.emit('tick', [String(i)]);
      await lastValueFrom(last!);
    });
    expect(sent).toBeDefined();
    expect(sent).toBeLessThan(COUNT);
    expect(bus.client.getStats()).toEqual({ sent: COUNT, failed: 0 });
  });

  it(`lets the event loop turn during ${COUNT.toLocaleString('en')} awaited emits`, async () => {
    bus = await startBus({ pubAddress: await endpoint('tcp'), backpressure });
    const sent = await sentWhenTheLoopTurns(async () => {
      for (let i = 0; i < COUNT; i++) await lastValueFrom(bus!.client.emit('tick', [String(i)]));
    });
    expect(sent).toBeDefined();
    expect(sent).toBeLessThan(COUNT);
  });
});
