import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, endpoint, startBus } from '../support/bus.js';
import { rawPublisher } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

const TOPICS = 3000;
const TOPIC_LENGTH = 64 * 1024;
const MAX_HEAP_GROWTH = 50 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

@Controller()
class WildcardController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('news.*')
  news(@Payload() parts: string[]) {
    this.recorder.record('news', parts);
  }
}

describe('a peer sending distinct huge topics', () => {
  let bus: Bus | undefined;
  let peer: Awaited<ReturnType<typeof rawPublisher>> | undefined;
  afterEach(async () => {
    await bus?.close();
    peer?.close();
  });

  it(`does not make the server keep them: ${TOPICS} topics of 64 KiB`, async () => {
    const address = await endpoint('tcp');
    peer = await rawPublisher(address, { sendHighWaterMark: TOPICS + 10 });
    bus = await startBus({ subAddresses: address }, [WildcardController], [Recorder]);
    await peer.subscribed('news.');
    const before = heapAfterGc();

    // Each passes the "news." subscription and then the wildcard router; no handler matches
    // ("*" is one token), so each is rejected, and must be forgotten.
    for (let i = 0; i < TOPICS; i++) await peer.send([`news.${i}.`.padEnd(TOPIC_LENGTH, 'x'), 'late']);
    await peer.send(['news.end', 'done']);
    expect(await bus.get(Recorder).wait('news', 1, 30_000)).toEqual([['done']]);

    expect(bus.server.getStats()).toMatchObject({ received: TOPICS + 1, rejected: { 'no-handler': TOPICS } });
    const growth = heapAfterGc() - before;
    expect(growth).toBeLessThan(MAX_HEAP_GROWTH);
  });
});
