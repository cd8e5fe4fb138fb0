import { Controller, Injectable } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type ZmqClient, ZmqContext, type ZmqOptions, ZmqRejectReason } from '../../src/zmq/index.js';
import { type Bus, endpoint, removeIpcDir, startBus } from '../support/bus.js';
import { hex, PyzmqPeer, pyzmqVersions } from './pyzmq-peer.js';

// Byte-exact interop with a plain ZeroMQ peer that is not Node: pyzmq, from Debian's python3-zmq.

interface Received {
  handler: string;
  data: unknown;
  /** Every frame as received, topic included, in hex. */
  frames: string[];
}

@Injectable()
class Inbox {
  readonly received: Received[] = [];
  private readonly changed = new Set<() => void>();

  record(handler: string, data: unknown, ctx: ZmqContext): void {
    this.received.push({ handler, data, frames: hex(ctx.getFrames()) });
    for (const check of this.changed) check();
  }

  /** What one handler received, probes aside. */
  of(handler: string): Received[] {
    return this.received.filter((message) => message.handler === handler);
  }

  /** The first message matching `predicate`, waiting at most `timeoutMs` for it. */
  until(predicate: (message: Received) => boolean, what: string, timeoutMs = 15_000): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.received.find(predicate);
        if (found) {
          done();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `the Nest app received no ${what} within ${timeoutMs} ms; it received: ` +
              JSON.stringify(this.received.map(({ handler, frames }) => ({ handler, frames }))),
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.changed.delete(check);
      };
      this.changed.add(check);
      check();
    });
  }
}

@Controller()
class BusController {
  constructor(private readonly inbox: Inbox) {}

  // The explicit <string> picks EventPattern's untyped overload: Nest 12's typed one types every
  // argument after the payload as unknown, so a ZmqContext parameter fails under strict (TS1241).
  @EventPattern<string>('hello')
  onHello(@Payload() data: unknown, @Ctx() ctx: ZmqContext): void {
    this.inbox.record('hello', data, ctx);
  }

  @EventPattern<string>('delete')
  onDelete(@Payload() data: unknown, @Ctx() ctx: ZmqContext): void {
    this.inbox.record('delete', data, ctx);
  }

  @EventPattern<string>('topic')
  onTopic(@Payload() data: unknown, @Ctx() ctx: ZmqContext): void {
    this.inbox.record('topic', data, ctx);
  }

  // Declared last, so its subscription is the last one the SUB sends. Subscriptions travel in
  // order on one pipe, so once a probe gets through, the publisher holds every subscription.
  @EventPattern<string>('probe')
  onProbe(@Payload() data: unknown, @Ctx() ctx: ZmqContext): void {
    this.inbox.record('probe', data, ctx);
  }
}

const PYZMQ_TRANSPORTS = ['tcp', 'ipc'] as const;
type PyzmqTransport = (typeof PYZMQ_TRANSPORTS)[number];

async function bindAddress(transport: PyzmqTransport): Promise<string> {
  return transport === 'tcp' ? 'tcp://127.0.0.1:*' : endpoint('ipc');
}

/** One PUB to one SUB keeps order: once the fence arrives, everything sent before it has. */
async function fence(peer: PyzmqPeer, inbox: Inbox): Promise<void> {
  await peer.send(['hello', 'fence']);
  await inbox.until(
    (message) => message.handler === 'hello' && message.frames[1] === hex(['fence'])[0],
    'fence',
  );
}

async function emit(client: ZmqClient, topic: string, data: unknown): Promise<void> {
  await lastValueFrom(client.emit(topic, data), { defaultValue: undefined });
}

let bus: Bus | undefined;
const peers: PyzmqPeer[] = [];

afterEach(async () => {
  await Promise.all(peers.splice(0).map((peer) => peer.stop()));
  await bus?.close();
  bus = undefined;
});

afterAll(() => removeIpcDir());

it('runs pyzmq with /usr/bin/python3', () => {
  expect(pyzmqVersions()).toMatch(/^libzmq \d+\.\d+\.\d+ \/ pyzmq \d+/);
});

describe.each(PYZMQ_TRANSPORTS)('pyzmq PUB -> Nest @EventPattern over %s', (transport) => {
  /**
   * pyzmq binds a PUB, a Nest app subscribes to it, and pyzmq probes until the Nest app has
   * heard a probe: from then on nothing the test sends is lost to the slow joiner.
   */
  async function pyzmqPublishesToNest(options: ZmqOptions = {}) {
    const { peer, endpoint: address } = await PyzmqPeer.publisher(await bindAddress(transport));
    peers.push(peer);
    bus = await startBus({ ...options, subAddresses: address }, [BusController], [Inbox]);
    const inbox = bus.get(Inbox);
    const rejected: { reason: string; topic: string | undefined }[] = [];
    bus.server.on('rejected', (reason, _frames, topic) => rejected.push({ reason, topic }));
    await peer.probeUntil(
      'probe',
      inbox.until((message) => message.handler === 'probe', 'probe'),
    );
    return { peer, inbox, rejected, server: bus.server };
  }

  it("delivers [b'hello', b'world'] to @EventPattern('hello') as ['world']", async () => {
    const { peer, inbox } = await pyzmqPublishesToNest();
    await peer.send(['hello', 'world']);
    const message = await inbox.until((received) => received.handler === 'hello', "'hello'");
    expect(message.data).toEqual(['world']);
    expect(message.frames).toEqual(hex(['hello', 'world']));
  });

  it('delivers every part of a multi-part message, UTF-8 and empty parts included', async () => {
    const { peer, inbox } = await pyzmqPublishesToNest();
    const parts = ['wörld', '✓ again', '', 'a, b; c'];
    await peer.send(['hello', ...parts]);
    const message = await inbox.until((received) => received.handler === 'hello', "'hello'");
    expect(message.data).toEqual(parts);
    expect(message.frames).toEqual(hex(['hello', ...parts]));
  });

  it("delivers raw non-UTF-8 bytes unchanged with receiveAs: 'buffer' (ZMQ_RECEIVE_AS)", async () => {
    const { peer, inbox } = await pyzmqPublishesToNest({ receiveAs: 'buffer' });
    const parts = [Buffer.from([0xff, 0x00, 0xfe, 0x80]), Buffer.from([0xc3, 0x28]), Buffer.alloc(0)];
    await peer.send(['hello', ...parts]);
    const message = await inbox.until((received) => received.handler === 'hello', "'hello'");
    expect(Array.isArray(message.data)).toBe(true);
    const data = message.data as unknown[];
    expect(data.every((part) => Buffer.isBuffer(part))).toBe(true);
    expect(hex(data as Buffer[])).toEqual(hex(parts));
  });

  it('rejects non-UTF-8 parts under the default string mode, and goes on delivering', async () => {
    const { peer, inbox, rejected, server } = await pyzmqPublishesToNest();
    await peer.send(['hello', Buffer.from([0xff, 0xfe])]);
    await fence(peer, inbox);
    expect(inbox.of('hello').map((message) => message.data)).toEqual([['fence']]);
    expect(rejected).toEqual([{ reason: ZmqRejectReason.DECODE_FAILED, topic: 'hello' }]);
    expect(server.getStats().rejected[ZmqRejectReason.DECODE_FAILED]).toBe(1);
  });

  it("decodes [b'topic', json_bytes] with the JSON codec", async () => {
    const { peer, inbox } = await pyzmqPublishesToNest({ codec: 'json' });
    const json = '{"a":1,"list":[1,"two",null],"text":"é ✓","nested":{"ok":true}}';
    await peer.send(['topic', json]);
    const message = await inbox.until((received) => received.handler === 'topic', "'topic'");
    expect(message.data).toEqual({ a: 1, list: [1, 'two', null], text: 'é ✓', nested: { ok: true } });
    expect(message.frames).toEqual(hex(['topic', json]));
  });

  it("delivers CubicWeb's ['delete', '42', '43'] to @EventPattern('delete')", async () => {
    const { peer, inbox } = await pyzmqPublishesToNest();
    await peer.send(['delete', '42', '43']);
    const message = await inbox.until((received) => received.handler === 'delete', "'delete'");
    expect(message.data).toEqual(['42', '43']);
    expect(message.frames).toEqual(hex(['delete', '42', '43']));
  });

  it("dispatches exactly: 'helloX' and 'hello.world' never reach the 'hello' handler", async () => {
    const { peer, inbox, rejected } = await pyzmqPublishesToNest();
    await peer.send(['helloX', 'world']);
    await peer.send(['hello.world', 'world']);
    await fence(peer, inbox);
    expect(inbox.of('hello').map((message) => message.frames)).toEqual([hex(['hello', 'fence'])]);
    expect(rejected).toEqual([
      { reason: ZmqRejectReason.NO_HANDLER, topic: 'helloX' },
      { reason: ZmqRejectReason.NO_HANDLER, topic: 'hello.world' },
    ]);
  });
});

describe.each(PYZMQ_TRANSPORTS)('Nest client.emit -> pyzmq SUB over %s', (transport) => {
  /** A Nest app publishes; pyzmq subscribes; the XPUB seeing the subscriptions is the signal. */
  async function nestPublishesToPyzmq(topics: string[], options: ZmqOptions = {}) {
    bus = await startBus({ ...options, pubAddress: await bindAddress(transport) });
    const client: ZmqClient = bus.client;
    const subscribed: string[] = [];
    client.on('subscribe', (prefix) => subscribed.push(prefix));
    const ready = Promise.all(topics.map((topic) => client.waitForSubscribers(topic, { timeout: 15_000 })));
    ready.catch(() => undefined);
    const peer = await PyzmqPeer.subscriber(client.endpoint!, topics);
    peers.push(peer);
    await ready;
    return { peer, client, subscribed };
  }

  it("puts exactly [b'hello', b'world', b'again'] on the wire", async () => {
    const { peer, client, subscribed } = await nestPublishesToPyzmq(['hello']);
    expect(subscribed).toEqual(['hello']);
    await emit(client, 'hello', ['world', 'again']);
    expect((await peer.next('message')).frames).toEqual(hex(['hello', 'world', 'again']));
  });

  it('sends a Buffer part unchanged, next to UTF-8 string parts', async () => {
    const { peer, client } = await nestPublishesToPyzmq(['hello']);
    const raw = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    await emit(client, 'hello', [raw, 'wörld', '']);
    expect((await peer.next('message')).frames).toEqual(hex(['hello', raw, 'wörld', '']));
  });

  it("puts exactly [b'topic', b'{\"a\":1}'] on the wire with the JSON codec", async () => {
    const { peer, client } = await nestPublishesToPyzmq(['topic'], { codec: 'json' });
    await emit(client, 'topic', { a: 1 });
    expect((await peer.next('message')).frames).toEqual(hex(['topic', '{"a":1}']));
  });

  it("sends CubicWeb's ['delete', '42', '43'], in emit order after other topics", async () => {
    const { peer, client } = await nestPublishesToPyzmq(['delete', 'hello']);
    await emit(client, 'hello', 'world');
    await emit(client, 'delete', ['42', '43']);
    expect((await peer.next('message')).frames).toEqual(hex(['hello', 'world']));
    expect((await peer.next('message')).frames).toEqual(hex(['delete', '42', '43']));
  });
});
