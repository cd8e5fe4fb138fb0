/**
 * In-process cost of each publishing layer, no network: an XPUB with no subscriber drops every
 * message inside libzmq, so what is left is JavaScript, N-API and promise overhead.
 *
 *   node dist-bench/bench/micro.js [--count=200000] [--rounds=5]
 *
 * Prints the best round of each (ns per emit) and the heap bytes per emit still queued after a
 * fire-and-forget burst (what a 200k burst keeps alive until it is sent).
 */
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { lastValueFrom, type Observable } from 'rxjs';
import { XPublisher } from 'zeromq';
import { ZmqClient } from '../src/zmq/index.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const COUNT = Number(values.count);
const ROUNDS = Number(values.rounds);
const payload = 'x'.repeat(16);

async function best(name: string, body: () => Promise<void>): Promise<void> {
  let fastest = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    await body();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start));
  }
  console.log(`${name.padEnd(48)} ${(fastest / COUNT).toFixed(0).padStart(6)} ns/emit`);
}

Logger.overrideLogger(false);
const socket = new XPublisher({ noDrop: true });
await socket.bind('tcp://127.0.0.1:*');
const client = new ZmqClient({ pubAddress: 'tcp://127.0.0.1:*', backpressure: 'block' });
await client.connect();

await best('raw: await socket.send() loop', async () => {
  for (let i = 0; i < COUNT; i++) await socket.send(['bench', payload]);
});
await best('bus: await lastValueFrom(client.emit()) loop', async () => {
  for (let i = 0; i < COUNT; i++) await lastValueFrom(client.emit('bench', [payload]));
});
await best('bus: client.emit() x N, then await the last', async () => {
  let last: Observable<unknown> | undefined;
  for (let i = 0; i < COUNT; i++) last = client.emit('bench', [payload]);
  await lastValueFrom(last!);
});

const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const emits: Observable<unknown>[] = [];
  // Not connected: every emit stays queued, as in a burst that outruns the socket.
  const idle = new ZmqClient({ pubAddress: 'tcp://127.0.0.1:*' });
  for (let i = 0; i < COUNT; i++) emits.push(idle.emit('bench', [payload]));
  gc();
  const perEmit = (process.memoryUsage().heapUsed - before) / COUNT - 8;
  console.log(
    `${'heap per queued emit (run with --expose-gc)'.padEnd(48)} ${perEmit.toFixed(0).padStart(6)} bytes`,
  );
  await idle.close();
}

await client.close();
socket.close();
