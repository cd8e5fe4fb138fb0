/**
 * In-process cost of the subscriber's dispatch, no network: the same 2-frame messages handed
 * (1) straight to the handler Nest built for `@EventPattern('bench')`, and (2) to `ZmqServer`'s
 * message handling, which decodes, routes and calls that same handler.
 *
 *   node dist-bench/bench/dispatch.js [--count=300000] [--rounds=7]
 *
 * Each round hands over `count` messages, letting the event loop turn every 512 as the server's
 * receive loop does, and checks that the handler saw them all. Prints the median and the best
 * round in ns per message; the difference between the two lines is what the bus adds to Nest.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { ZmqContext, ZmqServer } from '../src/zmq/index.js';
import { SinkModule } from './peers/nest-sink.js';
import { TOPIC } from './protocol.js';
import type { Sink } from './sink.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '300000' }, rounds: { type: 'string', default: '7' } },
});
const BATCH = 512;
const COUNT = Math.ceil(Number(values.count) / BATCH) * BATCH;
const ROUNDS = Number(values.rounds);

let handled = 0;
const counter = { probe: () => undefined, data: () => void handled++ } as unknown as Sink;
const server = new ZmqServer({ subAddresses: 'tcp://127.0.0.1:9' });
const app = await NestFactory.createMicroservice(SinkModule.with(counter), {
  strategy: server,
  logger: false,
});
await app.listen();

const messages = Array.from({ length: BATCH }, () => [Buffer.from(TOPIC), Buffer.alloc(16, 'x')]);
const nestHandler = server.getHandlerByPattern(TOPIC)!;
const handleMessage = (server as unknown as { handleMessage(frames: Buffer[]): void }).handleMessage.bind(
  server,
);

async function measure(name: string, deliver: (frames: Buffer[]) => void): Promise<void> {
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const before = handled;
    const start = process.hrtime.bigint();
    for (let sent = 0; sent < COUNT; sent += BATCH) {
      for (const frames of messages) deliver(frames);
      await new Promise((resolve) => setImmediate(resolve));
    }
    rounds.push(Number(process.hrtime.bigint() - start) / COUNT);
    // Handlers finish in microtasks; the last batch's are done once the loop has turned.
    if (handled - before !== COUNT) throw new Error(`${name}: handled ${handled - before} of ${COUNT}`);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)]!;
  console.log(
    `${name.padEnd(46)} median ${median.toFixed(0).padStart(5)} ns/msg, best ${rounds[0]!.toFixed(0)}`,
  );
}

await measure("Nest's handler alone (payload decoded, context)", (frames) => {
  void nestHandler([frames[1]!.toString('utf8')], new ZmqContext([TOPIC, frames, undefined]));
});
await measure('ZmqServer: decode, route, call the same handler', handleMessage);
await app.close();
