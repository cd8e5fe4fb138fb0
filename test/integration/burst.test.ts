import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Bus, endpoint, removeIpcDir, startBus, TRANSPORTS } from '../support/bus.js';
import { Recorder } from '../support/recorder.js';

const COUNT = 100_000;

@Controller()
class CountController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('tick')
  onTick(@Payload() [n]: string[]) {
    this.recorder.record('tick', n);
  }
}

describe.each(TRANSPORTS)('burst over %s', (transport) => {
  let bus: Bus | undefined;
  afterEach(async () => bus?.close());
  afterAll(removeIpcDir);

  it(`publishes ${COUNT.toLocaleString('en')} emits fired without awaiting, all of them, in order`, async () => {
    const address = await endpoint(transport);
    bus = await startBus(
      { pubAddress: address, subAddresses: address, backpressure: 'block' },
      [CountController],
      [Recorder],
    );
    await bus.client.waitForSubscribers('tick');

    const emits = [];
    for (let i = 0; i < COUNT; i++) emits.push(bus.client.emit('tick', [String(i)]));
    const received = await bus.get(Recorder).wait('tick', COUNT, 50_000);

    expect(received.length).toBe(COUNT);
    const outOfOrder = received.findIndex((n, i) => n !== String(i));
    expect(outOfOrder).toBe(-1);
    // Every emit's observable completed: none failed with "Socket is busy writing".
    await expect(lastValueFrom(emits[COUNT - 1]!)).resolves.toBeUndefined();
    expect(bus.client.getStats()).toEqual({ sent: COUNT, failed: 0 });
  });
});
