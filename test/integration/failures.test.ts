import { Controller, type Type } from '@nestjs/common';
import { Ctx, EventPattern, Payload, RpcException } from '@nestjs/microservices';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ZmqContext, ZmqRejectReason } from '../../src/zmq/index.js';
import { type Bus, endpoint, removeIpcDir, startBus, TRANSPORTS } from '../support/bus.js';
import { rawPublisher, RecordingLogger } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

@Controller()
class FaultyController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('boom')
  throws(@Payload() [n]: string[]) {
    this.recorder.record('boom', n);
    throw new Error(`sync failure ${n}`);
  }

  @EventPattern<string>('boom')
  alsoCalled(@Payload() [n]: string[]) {
    this.recorder.record('boom#2', n);
  }

  @EventPattern<string>('reject')
  async rejects(@Payload() [n]: string[]) {
    this.recorder.record('reject', n);
    await Promise.resolve();
    throw new RpcException(`async failure ${n}`);
  }

  @EventPattern<string>('ok')
  ok(@Payload() data: unknown, @Ctx() context: ZmqContext) {
    this.recorder.record('ok', { data, topic: context.getTopic() });
  }
}

@Controller()
class OneTokenController {
  constructor(private readonly recorder: Recorder) {}

  // Subscribes to everything (an empty prefix), so malformed topics reach the server at all.
  @EventPattern<string>('*')
  any(@Ctx() context: ZmqContext) {
    this.recorder.record('*', context.getTopic());
  }
}

describe.each(TRANSPORTS)('faults over %s', (transport) => {
  let bus: Bus | undefined;
  let peer: Awaited<ReturnType<typeof rawPublisher>> | undefined;
  let logger: RecordingLogger;
  afterEach(async () => {
    await bus?.close();
    peer?.close();
  });
  afterAll(removeIpcDir);

  async function start(
    options: Parameters<typeof startBus>[0] = {},
    controllers: Type[] = [FaultyController],
  ) {
    const address = await endpoint(transport);
    peer = await rawPublisher(address);
    logger = new RecordingLogger();
    bus = await startBus({ subAddresses: address, ...options }, controllers, [Recorder], logger);
    await peer.subscribed('boom');
    return bus.get(Recorder);
  }

  it('logs a handler that throws or rejects with its topic, and goes on delivering', async () => {
    const recorder = await start();
    for (let i = 0; i < 3; i++) {
      await peer!.send(['boom', String(i)]);
      await peer!.send(['reject', String(i)]);
      await peer!.send(['ok', String(i)]);
    }
    expect(await recorder.wait('ok', 3)).toHaveLength(3);
    expect(await recorder.wait('boom', 3)).toEqual(['0', '1', '2']);
    // The second handler of a topic runs even though the first one threw.
    expect(await recorder.wait('boom#2', 3)).toEqual(['0', '1', '2']);
    expect(await recorder.wait('reject', 3)).toEqual(['0', '1', '2']);
    await expect.poll(() => bus!.server.getStats().handlerErrors).toBe(6);
    expect(logger.find('error', /^Handler for "boom" failed/).length).toBeGreaterThan(0);
    expect(logger.find('error', /^Handler for "reject" failed: .*async failure 0/).length).toBe(1);
  });

  it('rejects, logs and counts malformed input without stopping delivery', async () => {
    const recorder = await start({}, [FaultyController, OneTokenController]);
    const rejected: [string, string | undefined][] = [];
    bus!.server.on('rejected', (reason, _frames, topic) => rejected.push([reason, topic]));
    const malformed: (string | Buffer)[][] = [
      [Buffer.alloc(0), 'no topic'],
      [''],
      [Buffer.from([0xff, 0xfe]), 'topic is not UTF-8'],
      ['ok', Buffer.from([0xc3, 0x28])],
      ['ok.more', 'two tokens: neither "ok" nor "*" matches'],
    ];
    for (const frames of malformed) {
      await peer!.send(frames);
      await peer!.send(['ok', 'still here']);
    }
    expect(await recorder.wait('ok', malformed.length)).toHaveLength(malformed.length);
    expect(bus!.server.getStats()).toEqual({
      received: malformed.length * 2,
      dispatched: malformed.length,
      rejected: {
        [ZmqRejectReason.EMPTY_TOPIC]: 2,
        [ZmqRejectReason.INVALID_TOPIC]: 1,
        [ZmqRejectReason.DECODE_FAILED]: 1,
        [ZmqRejectReason.NO_HANDLER]: 1,
      },
      handlerErrors: 0,
      gaps: 0,
      missed: 0,
    });
    expect(rejected).toEqual([
      ['empty-topic', undefined],
      ['empty-topic', undefined],
      ['invalid-topic', undefined],
      ['decode-failed', 'ok'],
      ['no-handler', 'ok.more'],
    ]);
    expect(logger.find('warn', /^Rejected a message \(empty-topic/)).toHaveLength(1);
    expect(logger.find('warn', /^Rejected a message \(invalid-topic/)).toHaveLength(1);
    expect(
      logger.find('warn', /^Rejected a message \(decode-failed, "ok"\): part 0 is not valid UTF-8/),
    ).toHaveLength(1);
    expect(logger.find('debug', /^Rejected a message \(no-handler, "ok.more"\)/)).toHaveLength(1);
  });

  it('goes on delivering when an application listener throws', async () => {
    const recorder = await start({}, [FaultyController, OneTokenController]);
    bus!.server.on('rejected', () => {
      throw new Error('listener bug');
    });
    await peer!.send(['', 'rejected']);
    await peer!.send(['ok', 'after']);
    expect(await recorder.wait('ok', 1)).toEqual([{ data: ['after'], topic: 'ok' }]);
    expect(logger.find('error', /^A message could not be handled: Error: listener bug/)).toHaveLength(1);
  });

  it('rejects bad JSON under the JSON codec and goes on', async () => {
    const recorder = await start({ codec: 'json' });
    const bad: (string | Buffer)[][] = [
      ['ok', '{"unterminated":'],
      ['ok'],
      ['ok', '1', '2'],
      ['ok', Buffer.from([0xff])],
    ];
    for (const frames of bad) await peer!.send(frames);
    await peer!.send(['ok', '{"fine":[1,2]}']);
    const [received] = await recorder.wait('ok', 1);
    expect(received).toEqual({ data: { fine: [1, 2] }, topic: 'ok' });
    expect(bus!.server.getStats().rejected[ZmqRejectReason.DECODE_FAILED]).toBe(bad.length);
    // Throttled: the first is logged at once, the rest are counted and summarised later.
    expect(
      logger.find('warn', /^Rejected a message \(decode-failed, "ok"\): the payload is not valid JSON/),
    ).toHaveLength(1);
  });
});
