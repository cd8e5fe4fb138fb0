import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { lastValueFrom, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, endpoint, startBus } from '../support/bus.js';
import { rawPublisher } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

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

@Controller()
class TickController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('tick')
  onTick(@Payload() [n]: string[]) {
    this.recorder.record('tick', n);
    // Runs on the next turn of the event loop, so only once the server lets timers and I/O in.
    if (n === '0') setImmediate(() => this.recorder.record('turn', this.recorder.get('tick').length));
  }
}

describe('receiving', () => {
  let bus: Bus | undefined;
  let peer: Awaited<ReturnType<typeof rawPublisher>> | undefined;
  afterEach(async () => {
    await bus?.close();
    peer?.close();
  });

  it(`lets the event loop turn during a burst of ${COUNT.toLocaleString('en')} queued messages, then waits for more`, async () => {
    // inproc with no high-water mark: every send lands in the server's queue before this test
    // yields, so nothing but the server itself can let the event loop turn while it reads them.
    const address = await endpoint('inproc');
    peer = await rawPublisher(address, { sendHighWaterMark: 0, sendTimeout: 0 });
    bus = await startBus({ subAddresses: address, receiveHighWaterMark: 0 }, [TickController], [Recorder]);
    await peer.subscribed('tick');
    const recorder = bus.get(Recorder);

    const sends = Array.from({ length: COUNT }, (_, i) => peer!.send(['tick', String(i)]));
    await Promise.all(sends);
    const received = await recorder.wait('tick', COUNT);
    expect(received.findIndex((n, i) => n !== String(i))).toBe(-1);
    const [deliveredWhenTheLoopTurned] = await recorder.wait('turn', 1);
    expect(deliveredWhenTheLoopTurned).toBeGreaterThan(0);
    expect(deliveredWhenTheLoopTurned).toBeLessThan(COUNT);

    // The queue is empty now: the server must be back to waiting, not stopped or spinning.
    await peer.send(['tick', 'after the burst']);
    expect((await recorder.wait('tick', COUNT + 1)).at(-1)).toBe('after the burst');
    expect(bus.server.getStats()).toMatchObject({ received: COUNT + 1, dispatched: COUNT + 1 });
  });
});
