import { isUtf8 } from 'node:buffer';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { afterEach, describe, expect, it } from 'vitest';
import type { XPublisher } from 'zeromq';
import { type ZmqCodec, ZmqContext, ZmqRejectReason } from '../../src/zmq/index.js';
import { type Bus, endpoint, startBus } from '../support/bus.js';
import { rawPublisher, RecordingLogger } from '../support/peers.js';
import { Prng, seedFromEnv } from '../support/prng.js';
import { Recorder } from '../support/recorder.js';

// FUZZ_SEED=<n> replays a run; without it every run draws a new seed and prints it.
const SEED = seedFromEnv('FUZZ_SEED');
const HUGE = 64 * 1024;
const DELIVERY_TIMEOUT_MS = 150_000;
const REASONS = Object.values(ZmqRejectReason);

@Controller()
class FuzzController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('valid')
  valid(@Payload() data: unknown) {
    this.recorder.record('valid', data);
  }

  // Its literal prefix is empty, so the server subscribes to everything and every random
  // message reaches it; yet it matches only two-token topics ending in "fuzz".
  @EventPattern<string>('*.fuzz')
  wildcard(@Payload() data: unknown, @Ctx() context: ZmqContext) {
    this.recorder.record('wildcard', { topic: context.getTopic(), data });
  }
}

type Outcome = { reason: ZmqRejectReason } | { handler: 'valid' | 'wildcard'; data: unknown };

/** What the server must do with `frames`: the documented dispatch and reject rules, restated. */
function expectedOutcome(frames: Buffer[], codec: ZmqCodec): Outcome {
  const [topicFrame, ...parts] = frames;
  if (!topicFrame || topicFrame.length === 0) return { reason: ZmqRejectReason.EMPTY_TOPIC };
  if (!isUtf8(topicFrame)) return { reason: ZmqRejectReason.INVALID_TOPIC };
  const topic = topicFrame.toString('utf8');
  const tokens = topic.split('.');
  const handler =
    topic === 'valid' ? 'valid' : tokens.length === 2 && tokens[1] === 'fuzz' ? 'wildcard' : undefined;
  if (!handler) return { reason: ZmqRejectReason.NO_HANDLER };
  if (parts.some((part) => !isUtf8(part))) return { reason: ZmqRejectReason.DECODE_FAILED };
  const strings = parts.map((part) => part.toString('utf8'));
  if (codec === 'frames') return { handler, data: strings };
  if (strings.length !== 1) return { reason: ZmqRejectReason.DECODE_FAILED };
  try {
    return { handler, data: JSON.parse(strings[0]!) as unknown };
  } catch {
    return { reason: ZmqRejectReason.DECODE_FAILED };
  }
}

const INVALID_UTF8 = [
  [0xff],
  [0xc0, 0x80], // overlong NUL
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate
  [0xe2, 0x82], // truncated
  [0x80], // lone continuation byte
  [0xf5, 0x80, 0x80, 0x80], // beyond U+10FFFF
].map((bytes) => Buffer.from(bytes));
const NOT_JSON = ['{"n":', '{n:1}', 'undefined', 'NaN', "'x'", '[1,]', '{"a":1}}', '', ' ', '\u0000'];
const JSON_VALUES = [
  '{"n":-1}',
  '[]',
  'null',
  '"valid"',
  '123',
  '{"__proto__":{"x":1}}',
  ' {"a":[1,{"b":null}]} ',
];
const NEAR_VALID = [
  'validX',
  'valid.',
  'valid.x',
  'valid ',
  'vali',
  'VALID',
  'valid\u00e9',
  'valid\u0000',
  'valid.fuzz.x',
];
const TEXT = 'abcdefghijklmnopqrstuvwxyz.* >\u00e9\u20ac\u{1f600}';

function randomText(rng: Prng, length: number): string {
  return Array.from({ length }, () => rng.pick([...TEXT])).join('');
}

function randomTopic(rng: Prng): Buffer {
  return rng.weighted<() => Buffer>([
    [30, () => rng.bytes(rng.int(33))],
    [10, () => Buffer.alloc(0)],
    [1, () => (rng.chance(0.5) ? rng.bytes(HUGE) : Buffer.from(`valid${'x'.repeat(HUGE - 5)}`))],
    [10, () => Buffer.from(rng.pick(NEAR_VALID))],
    [10, () => Buffer.from(randomText(rng, 1 + rng.int(16)))],
    [10, () => Buffer.concat([Buffer.from(rng.pick(['', 'valid', 'a.'])), rng.pick(INVALID_UTF8)])],
    [15, () => Buffer.from('valid')],
    [10, () => Buffer.from(`${randomText(rng, 1 + rng.int(6)).replaceAll('.', '')}.fuzz`)],
  ])();
}

function randomPart(rng: Prng): Buffer {
  return rng.weighted<() => Buffer>([
    [10, () => Buffer.alloc(0)],
    [25, () => rng.bytes(rng.chance(0.05) ? rng.int(4097) : rng.int(65))],
    [10, () => Buffer.concat([Buffer.from(randomText(rng, rng.int(8))), rng.pick(INVALID_UTF8)])],
    [15, () => Buffer.from(rng.pick(NOT_JSON))],
    [20, () => Buffer.from(rng.pick(JSON_VALUES))],
    [20, () => Buffer.from(randomText(rng, rng.int(32)))],
  ])();
}

/** 1 to 10 frames: a topic, then parts. */
function randomMessage(rng: Prng): Buffer[] {
  const frames = [randomTopic(rng)];
  const parts = rng.int(10);
  for (let i = 0; i < parts; i++) frames.push(randomPart(rng));
  return frames;
}

function validMessage(n: number, codec: ZmqCodec): Buffer[] {
  return [Buffer.from('valid'), Buffer.from(codec === 'json' ? JSON.stringify({ n }) : String(n))];
}

/**
 * With `noDrop`, a plain XPUB rejects with EAGAIN instead of waiting while the subscriber's queue
 * is full: wait and try again, so that no message is lost to ZeroMQ.
 */
async function sendWhenRoom(socket: XPublisher, frames: Buffer[]): Promise<void> {
  for (let attempt = 0; attempt < 100_000; attempt++) {
    try {
      return await socket.send(frames);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EAGAIN') throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(attempt, 10)));
    }
  }
  throw new Error('the subscriber did not drain within 100,000 attempts');
}

describe.each([
  { codec: 'json' as const, randomCount: 100_000 },
  { codec: 'frames' as const, randomCount: 20_000 },
])('fuzzing the server with the $codec codec', ({ codec, randomCount }) => {
  let bus: Bus | undefined;
  let peer: Awaited<ReturnType<typeof rawPublisher>> | undefined;
  afterEach(async () => {
    await bus?.close();
    peer?.close();
  });

  it(`survives ${randomCount.toLocaleString('en')} random messages, counts each by reason, delivers every valid one (FUZZ_SEED=${SEED})`, async () => {
    const seed = SEED;
    const rng = new Prng(seed);
    console.log(`fuzz (${codec} codec): FUZZ_SEED=${seed}`);
    const started = Date.now();
    const address = await endpoint('tcp');
    peer = await rawPublisher(address, { noDrop: true });
    const logger = new RecordingLogger();
    bus = await startBus({ subAddresses: address, codec }, [FuzzController], [Recorder], logger);
    const server = bus.server;
    const errors: Error[] = [];
    server.on('error', (error) => errors.push(error));
    const rejectedSeen: ZmqRejectReason[] = [];
    server.on('rejected', (reason) => rejectedSeen.push(reason));
    await peer.subscribed('valid');
    expect(peer.subscriptions).toEqual(['']);

    const expected = {
      valid: [] as unknown[],
      wildcard: [] as unknown[],
      rejected: [] as ZmqRejectReason[],
      byReason: Object.fromEntries(REASONS.map((reason) => [reason, 0])) as Record<ZmqRejectReason, number>,
    };
    let sent = 0;
    let validSent = 0;
    let randomSent = 0;
    let randomDispatched = 0;
    let hugeTopics = 0;
    const send = async (frames: Buffer[], random: boolean): Promise<void> => {
      const outcome = expectedOutcome(frames, codec);
      if ('reason' in outcome) {
        expected.rejected.push(outcome.reason);
        expected.byReason[outcome.reason]++;
      } else if (outcome.handler === 'valid') {
        expected.valid.push(outcome.data);
      } else {
        expected.wildcard.push({ topic: frames[0]!.toString('utf8'), data: outcome.data });
      }
      if (random && !('reason' in outcome)) randomDispatched++;
      if (frames[0]!.length >= HUGE) hugeTopics++;
      await sendWhenRoom(peer!.socket, frames);
      sent++;
    };

    while (randomSent < randomCount) {
      const gap = Math.min(rng.int(21), randomCount - randomSent);
      for (let i = 0; i < gap; i++, randomSent++) await send(randomMessage(rng), true);
      await send(validMessage(validSent++, codec), false);
    }

    const recorder = bus.get(Recorder);
    await expect
      .poll(() => server.getStats().received, { timeout: DELIVERY_TIMEOUT_MS, interval: 50 })
      .toBe(sent);
    // Handlers run a few promise ticks after their message is counted.
    const handled = () => recorder.get('valid').length + recorder.get('wildcard').length;
    await expect.poll(handled).toBe(server.getStats().dispatched);
    const [valid, wildcard, stats] = [recorder.get('valid'), recorder.get('wildcard'), server.getStats()];
    const elapsed = Date.now() - started;
    const serverLines = logger.lines.filter((line) => line.context === 'ZmqServer');
    const warnings = serverLines.filter((line) => line.level === 'warn');
    const debug = serverLines.filter((line) => line.level === 'debug');
    console.log(
      `fuzz (${codec} codec): sent ${sent} (${randomSent} random, ${hugeTopics} of them with a 64 KiB topic; ` +
        `${validSent} valid), received ${stats.received}, dispatched ${stats.dispatched} ` +
        `(${randomDispatched} random ones that decode), rejected ${JSON.stringify(stats.rejected)}, ` +
        `${warnings.length} warn and ${debug.length} debug log lines, in ${elapsed} ms; FUZZ_SEED=${seed}`,
    );

    // In order and exactly once: each valid message, and any random one that decodes, in its place.
    expect(valid).toEqual(expected.valid);
    expect(wildcard).toEqual(expected.wildcard);
    expect(stats).toEqual({
      received: sent,
      dispatched: expected.valid.length + expected.wildcard.length,
      rejected: expected.byReason,
      handlerErrors: 0,
      // Random bytes never form a sequence frame, so no stream and no gap is followed.
      gaps: 0,
      missed: 0,
    });
    expect(stats.dispatched + REASONS.reduce((sum, reason) => sum + stats.rejected[reason], 0)).toBe(
      stats.received,
    );
    expect(rejectedSeen).toEqual(expected.rejected);
    // Every reason was exercised, so the run proves something about each.
    expect(REASONS.filter((reason) => stats.rejected[reason] === 0)).toEqual([]);
    expect(errors).toEqual([]);

    // The throttle keeps the log small: per reason, one line at once and one per 5 s after that.
    const perReason = 1 + elapsed / 5000;
    expect(warnings.length).toBeLessThanOrEqual(3 * perReason);
    expect(debug.length).toBeLessThanOrEqual(1 * perReason);
    expect(serverLines.filter((line) => line.level === 'error')).toEqual([]);
    // A 64 KiB topic is cut short in the log.
    expect(Math.max(...serverLines.map((line) => line.message.length))).toBeLessThan(1000);
  }, 240_000);
});
