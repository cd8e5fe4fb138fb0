import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { Subscriber } from 'zeromq';
import { afterAll, describe, expect, it } from 'vitest';
import { SEQUENCE_FRAME_SIZE, type ZmqGap, ZmqContext } from '../../src/zmq/index.js';
import { closeAfterEach, endpoint, removeIpcDir } from '../support/bus.js';
import { JsonLinesChild } from '../support/child.js';
import { rawPublisher, RecordingLogger, rawSubscriber } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

@Controller()
class TickController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('tick')
  onTick(@Payload() parts: string[], @Ctx() context: ZmqContext) {
    this.recorder.record('tick', {
      parts,
      sequence: context.getSequence(),
      payload: context.getPayloadFrames(),
    });
  }
}

@Controller()
class SlowController {
  constructor(private readonly recorder: Recorder) {}

  // Busy for a while on each message, so that a fast publisher overruns this subscriber.
  @EventPattern<string>('tick')
  onTick(@Payload() [n]: string[]) {
    const until = process.hrtime.bigint() + 20_000n;
    while (process.hrtime.bigint() < until);
    this.recorder.record('tick', Number(n));
  }
}

const { closers, bus } = closeAfterEach();
afterAll(removeIpcDir);

describe('gap detection (sequence mode)', () => {
  it('appends one sequence frame that plain peers see and handlers do not', async () => {
    const address = await endpoint('tcp');
    const { client, get } = await bus(
      { pubAddress: address, subAddresses: address, sequence: true },
      [TickController],
      [Recorder],
    );
    const peer = rawSubscriber(address, ['tick']);
    closers.push(() => peer.close());
    await client.waitForSubscribers('tick', { count: 2 });

    await lastValueFrom(client.emit('tick', ['a', 'b']));
    const [frames] = await peer.receive(1);
    expect(frames!.slice(0, 3).map(String)).toEqual(['tick', 'a', 'b']);
    expect(frames).toHaveLength(4);
    expect(frames![3]!.length).toBe(SEQUENCE_FRAME_SIZE);
    const [received] = (await get(Recorder).wait('tick', 1)) as {
      parts: string[];
      sequence: unknown;
      payload: Buffer[];
    }[];
    expect(received!.parts).toEqual(['a', 'b']);
    expect(received!.payload.map(String)).toEqual(['a', 'b']);
    expect(received!.sequence).toEqual({ publisher: client.publisherId, seq: 0 });
  });

  it('reports exactly the messages a relay dropped, with the publisher and the topic', async () => {
    // publisher (sequence mode) -> relay that loses #3 and #4 -> subscriber
    const upstream = await endpoint('tcp');
    const downstream = await endpoint('tcp');
    const publisher = await bus({ pubAddress: upstream, sequence: true });
    const relayIn = new Subscriber({ linger: 0 });
    relayIn.connect(upstream);
    relayIn.subscribe('tick');
    const relayOut = await rawPublisher(downstream);
    closers.push(
      () => relayIn.close(),
      () => relayOut.close(),
    );
    const subscriber = await bus({ subAddresses: downstream }, [TickController], [Recorder]);
    const gaps: ZmqGap[] = [];
    subscriber.server.on('gap', (gap) => gaps.push(gap));
    await relayOut.subscribed('tick');
    await publisher.client.waitForSubscribers('tick');

    for (let n = 0; n < 8; n++) publisher.client.emit('tick', [String(n)]);
    for (let n = 0; n < 8; n++) {
      const frames = await relayIn.receive();
      if (n !== 3 && n !== 4) await relayOut.send(frames);
    }
    const received = (await subscriber.get(Recorder).wait('tick', 6)) as { parts: string[] }[];
    expect(received.map(({ parts }) => parts[0])).toEqual(['0', '1', '2', '5', '6', '7']);
    expect(gaps).toEqual([
      { publisher: publisher.client.publisherId, topic: 'tick', expected: 3, received: 5, missed: 2 },
    ]);
    expect(subscriber.server.getStats()).toMatchObject({ gaps: 1, missed: 2 });
  });

  it('accounts for every message a slow subscriber loses under backpressure=drop', async () => {
    const address = await endpoint('tcp');
    const total = 20_000;
    const publisher = await bus({ pubAddress: address, sequence: true, sendHighWaterMark: 10 });
    const subscriber = await bus(
      { subAddresses: address, receiveHighWaterMark: 10 },
      [SlowController],
      [Recorder],
    );
    await publisher.client.waitForSubscribers('tick');
    for (let n = 0; n < total; n++) publisher.client.emit('tick', [String(n)]);
    // The last messages may be dropped too, and a loss only shows when a later message arrives:
    // publish probes one at a time until one is delivered.
    const recorder = subscriber.get(Recorder);
    let sent = total;
    for (let probe = 0; probe < 100; probe++) {
      const n = sent++;
      await lastValueFrom(publisher.client.emit('tick', [String(n)]));
      const arrived = await expect
        .poll(() => recorder.get('tick').includes(n), { timeout: 2000 })
        .toBe(true)
        .then(
          () => true,
          () => false,
        );
      if (arrived) break;
    }
    const delivered = recorder.get('tick') as number[];
    const { missed } = subscriber.server.getStats();
    expect(delivered.at(-1)).toBe(sent - 1);
    expect(delivered.length + missed).toBe(sent);
    expect(delivered).toEqual(delivered.toSorted((a, b) => a - b));
    console.log(`drop: ${sent} sent, ${delivered.length} delivered, ${missed} missed and reported as gaps`);
  });
});

describe('backpressure', () => {
  it('loses nothing to a slow subscriber under backpressure=block', async () => {
    const address = await endpoint('tcp');
    const total = 20_000;
    const publisher = await bus({ pubAddress: address, backpressure: 'block', sendHighWaterMark: 10 });
    const subscriber = await bus(
      { subAddresses: address, receiveHighWaterMark: 10 },
      [SlowController],
      [Recorder],
    );
    await publisher.client.waitForSubscribers('tick');
    const rssBefore = process.memoryUsage().rss;
    // Emits awaited in windows of 100: end-to-end backpressure keeps the queue, and memory, bounded.
    for (let n = 0; n < total; n += 100) {
      const window = Array.from({ length: 100 }, (_, i) =>
        lastValueFrom(publisher.client.emit('tick', [String(n + i)])),
      );
      await Promise.all(window);
    }
    const delivered = (await subscriber.get(Recorder).wait('tick', total, 50_000)) as number[];
    expect(delivered).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(publisher.client.getStats()).toEqual({ sent: total, failed: 0 });
    console.log(
      `block: ${total} sent, ${total} delivered; RSS growth ${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(1)} MiB`,
    );
  });
});

describe('maximum message size', () => {
  it('disconnects a publisher that sends a larger message, and goes on with the next', async () => {
    const address = await endpoint('tcp');
    const peer = await rawPublisher(address);
    closers.push(() => peer.close());
    const logger = new RecordingLogger();
    const subscriber = await bus(
      { subAddresses: address, maxMessageSize: 1024 },
      [TickController],
      [Recorder],
      logger,
    );
    let connects = 0;
    const disconnected = new Promise((resolve) => subscriber.server.on('disconnect', resolve));
    await peer.subscribed('tick');
    await peer.send(['tick', Buffer.alloc(4096, 1)]);
    expect(await disconnected).toBe(address);
    subscriber.server.on('connect', () => connects++);
    // libzmq treats it as a protocol error and does not reconnect; the server does, and says so.
    // The oversized message is gone for good. Probe until the new connection's subscription is through.
    const warned = () => logger.find('warn', /dropped the connection to ".*" after a protocol error/).length;
    await expect.poll(warned, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => connects, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    const recorder = subscriber.get(Recorder);
    for (let probe = 0; probe < 50 && recorder.get('tick').length === 0; probe++) {
      await peer.send(['tick', 'small']);
      await recorder.wait('tick', 1, 200).catch(() => undefined);
    }
    const received = recorder.get('tick') as { parts: string[] }[];
    expect(received.length).toBeGreaterThan(0);
    expect(received.every(({ parts }) => parts[0] === 'small')).toBe(true);
  });
});

describe('reconnection', () => {
  it('resumes receiving from a publisher that was SIGKILLed and restarted, reporting disconnect and connect', async () => {
    const address = await endpoint('tcp');
    const first = new JsonLinesChild('test/fixtures/bus-child.mjs', ['pub', address, '100000']);
    closers.push(() => first.kill());
    await first.next((line) => line.ready === true);
    const subscriber = await bus({ subAddresses: address }, [TickController], [Recorder]);
    const events: string[] = [];
    subscriber.server.on('connect', () => events.push('connect'));
    subscriber.server.on('disconnect', () => events.push('disconnect'));
    const recorder = subscriber.get(Recorder);
    await recorder.wait('tick', 5);

    await first.kill();
    await expect.poll(() => events.at(-1), { timeout: 10_000 }).toBe('disconnect');
    const before = recorder.get('tick').length;
    const second = new JsonLinesChild('test/fixtures/bus-child.mjs', ['pub', address, '100000']);
    closers.push(() => second.kill());
    await second.next((line) => line.ready === true);
    const [resumed] = (await recorder.wait('tick', before + 1, 15_000)).slice(before) as {
      sequence: { publisher: string };
    }[];
    const firstPublisher = (recorder.get('tick')[0] as { sequence: { publisher: string } }).sequence
      .publisher;
    expect(resumed!.sequence.publisher).not.toBe(firstPublisher);
    expect(events.slice(-2)).toEqual(['disconnect', 'connect']);
  });

  it('delivers again to a subscriber that was SIGKILLed and restarted', async () => {
    const address = await endpoint('tcp');
    const publisher = await bus({ pubAddress: address, sequence: true });
    const client = publisher.client;
    for (const attempt of [1, 2]) {
      const child = new JsonLinesChild('test/fixtures/bus-child.mjs', ['sub', address]);
      closers.push(() => child.kill());
      await child.next((line) => line.ready === true);
      await client.waitForSubscribers('tick');
      await lastValueFrom(client.emit('tick', [`hello ${attempt}`]));
      const line = await child.next((l) => l.n === `hello ${attempt}`);
      expect(line.publisher).toBe(client.publisherId);
      const gone = new Promise((resolve) => client.on('unsubscribe', resolve));
      await child.kill();
      // The XPUB drops the dead subscriber's subscriptions once it notices the disconnect.
      await gone;
    }
  });
});
