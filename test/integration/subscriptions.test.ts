import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { lastValueFrom, type Observable } from 'rxjs';
import { XSubscriber } from 'zeromq';
import { afterAll, describe, expect, it } from 'vitest';
import type { ZmqClient } from '../../src/zmq/index.js';
import { closeAfterEach, endpoint, removeIpcDir } from '../support/bus.js';
import { rawSubscriber } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';
import { Waiters } from '../support/waiters.js';

@Controller()
class TickController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('tick')
  onTick(@Payload() [phase, n]: string[]) {
    this.recorder.record(phase!, Number(n));
  }
}

const { closers, bus } = closeAfterEach();
afterAll(removeIpcDir);

const CHUNK = 200;
const MAX_CHUNKS = 5000;
const MAX_EMITTING_MS = 20_000;

/**
 * Emits `tick | before | n` in chunks, each awaited, with a turn of the event loop between them,
 * until stopped; bounded in count and time. `chunks` tells whether it was still going.
 */
function keepEmitting(client: ZmqClient) {
  let next = 0;
  const state = { running: true, chunks: 0, finished: false };
  const waiters = new Waiters();
  const done = (async () => {
    const started = Date.now();
    while (state.running && state.chunks < MAX_CHUNKS && Date.now() - started < MAX_EMITTING_MS) {
      let last: Observable<unknown> | undefined;
      for (let i = 0; i < CHUNK; i++) last = client.emit('tick', ['before', String(next++)]);
      await lastValueFrom(last!);
      state.chunks++;
      waiters.notify();
      await new Promise((resolve) => setImmediate(resolve));
    }
    state.finished = true;
  })();
  return {
    state,
    /** Resolves once `count` more chunks have been sent. */
    sent: (count: number) =>
      waiters.until(
        () => (state.chunks >= count ? true : undefined),
        10_000,
        () => new Error(`only ${state.chunks} chunk(s) of emits were sent`),
      ),
    stop: async () => {
      state.running = false;
      await done;
    },
  };
}

function subscribeEvents(client: ZmqClient) {
  const seen: string[] = [];
  const waiters = new Waiters();
  for (const event of ['subscribe', 'unsubscribe'] as const) {
    client.on(event, (prefix) => {
      seen.push(`${event} ${prefix}`);
      waiters.notify();
    });
  }
  return {
    seen,
    next: (event: string) =>
      waiters.until(
        () => (seen.includes(event) ? true : undefined),
        10_000,
        () => new Error(`no "${event}" event; saw ${JSON.stringify(seen)}`),
      ),
  };
}

async function publisher() {
  const address = await endpoint('tcp');
  // block: once the subscriber is seen, nothing emitted after that may be dropped.
  const { client } = await bus({ pubAddress: address, backpressure: 'block' });
  return { address, client, events: subscribeEvents(client) };
}

/**
 * A publisher that keeps emitting, and has seen a first subscriber ('probe') while it did: from
 * then on it reads subscriptions by polling between sends rather than with a waiting receive.
 */
async function emittingPublisher() {
  const started = await publisher();
  const emitting = keepEmitting(started.client);
  closers.push(() => emitting.stop());
  await emitting.sent(1);
  const probe = rawSubscriber(started.address, ['probe']);
  closers.push(() => probe.close());
  await started.client.waitForSubscribers('probe', { timeout: 10_000 });
  return { ...started, emitting };
}

async function expectDelivered(client: ZmqClient, recorder: Recorder, count: number) {
  const emits = Array.from({ length: count }, (_, i) => client.emit('tick', ['after', String(i)]));
  await lastValueFrom(emits.at(-1)!);
  expect(await recorder.wait('after', count)).toEqual(Array.from({ length: count }, (_, i) => i));
}

describe('subscriptions seen by the publisher', () => {
  it('sees a subscriber that joins while the publisher is emitting, and delivers to it', async () => {
    const { address, client, events, emitting } = await emittingPublisher();
    const chunksAtJoin = emitting.state.chunks;
    const subscriber = await bus({ subAddresses: address }, [TickController], [Recorder]);
    await client.waitForSubscribers('tick', { timeout: 10_000 });
    await events.next('subscribe tick');
    // Still emitting when the subscription was seen, and emitting ever since the subscriber joined.
    expect(emitting.state.finished).toBe(false);
    expect(emitting.state.chunks).toBeGreaterThan(chunksAtJoin);
    await emitting.stop();

    const recorder = subscriber.get(Recorder);
    await expectDelivered(client, recorder, 500);
    // Whatever came before arrived without a gap (backpressure: block drops nothing).
    const before = recorder.get('before') as number[];
    expect(before.every((n, i) => i === 0 || n === before[i - 1]! + 1)).toBe(true);
    expect(events.seen.filter((event) => event.startsWith('unsubscribe'))).toEqual([]);
  });

  it('sees every subscription of a peer with more than one poll can read, while emitting', async () => {
    const { address, client, events, emitting } = await emittingPublisher();
    // Over 1024, the most one poll reads: the rest must be read on, not lost nor left behind.
    const prefixes = Array.from({ length: 3000 }, (_, i) => `many.${i}.`);
    // An XSUB, whose send high-water mark can be raised: a SUB socket hands a new connection
    // no more subscriptions than its own (1000 by default), and zeromq.js does not expose it.
    const many = new XSubscriber({ linger: 0, sendHighWaterMark: prefixes.length });
    closers.push(() => many.close());
    many.connect(address);
    for (const prefix of prefixes) await many.send(Buffer.concat([Buffer.from([1]), Buffer.from(prefix)]));
    for (const prefix of prefixes) await client.waitForSubscribers(prefix, { timeout: 10_000 });
    expect(emitting.state.finished).toBe(false);
    await emitting.stop();
    const seen = new Set(events.seen.filter((event) => event.startsWith('subscribe many.')));
    expect(seen.size).toBe(prefixes.length);
  });

  it('still sees new subscribers once the publisher has gone quiet', async () => {
    const { address, client, events, emitting } = await emittingPublisher();
    await emitting.stop();
    const sent = client.getStats().sent;

    // Each joins once the one before was seen. At most one more poll can still count sends
    // made before the stop, so by the last one the publisher is idle again and only a
    // waiting receive, re-armed after every timeout, can see it.
    for (const prefix of ['late-1', 'late-2']) {
      const late = rawSubscriber(address, [prefix]);
      closers.push(() => late.close());
      await client.waitForSubscribers(prefix, { timeout: 10_000 });
    }
    const subscriber = await bus({ subAddresses: address }, [TickController], [Recorder]);
    await client.waitForSubscribers('tick', { timeout: 10_000 });
    await events.next('subscribe tick');
    expect(client.getStats().sent).toBe(sent);
    expect(events.seen).toEqual([
      'subscribe probe',
      'subscribe late-1',
      'subscribe late-2',
      'subscribe tick',
    ]);
    await expectDelivered(client, subscriber.get(Recorder), 10);
  });

  // libzmq reports a subscriber's disconnect to a verbose XPUB as one unsubscribe message per
  // prefix it had subscribed to: no explicit unsubscribe is needed.
  describe.each([
    ['quiet', false],
    ['emitting', true],
  ])('while the publisher is %s', (_, emit) => {
    it("reports a subscriber's prefixes as unsubscribed when its app closes", async () => {
      const { address, client, events } = await publisher();
      const emitting = emit ? keepEmitting(client) : undefined;
      if (emitting) {
        closers.push(() => emitting.stop());
        await emitting.sent(1);
      }
      const staying = await bus({ subAddresses: address }, [TickController], [Recorder]);
      const leaving = await bus({ subAddresses: address }, [TickController], [Recorder]);
      await client.waitForSubscribers('tick', { count: 2, timeout: 10_000 });

      await leaving.close();
      await events.next('unsubscribe tick');
      await expect(client.waitForSubscribers('tick', { count: 2, timeout: 50 })).rejects.toThrow(
        'waiting for 2 subscriber(s) of "tick" (saw 1)',
      );
      // Had the emits stopped on their own bound, this would not test the publisher while emitting.
      expect(emitting?.state.finished ?? false).toBe(false);
      await emitting?.stop();
      expect(events.seen).toEqual(['subscribe tick', 'subscribe tick', 'unsubscribe tick']);
      await expectDelivered(client, staying.get(Recorder), 10);

      await staying.close();
      await expect
        .poll(() => events.seen.filter((event) => event === 'unsubscribe tick'), { timeout: 10_000 })
        .toHaveLength(2);
      await expect(client.waitForSubscribers('tick', { timeout: 50 })).rejects.toThrow('(saw 0)');
    });
  });
});
