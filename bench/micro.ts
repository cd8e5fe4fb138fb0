/**
 * In-process cost of each publishing layer, no network: an XPUB with no subscriber drops every
 * message inside libzmq, so what is left is JavaScript, N-API and promise overhead.
 *
 *   node --expose-gc dist-bench/bench/micro.js [--count=200000] [--rounds=5]
 *
 * For each layer: the best round's time per emit; the bytes allocated per emit (V8's sampling
 * heap profiler, collected objects included) and where; and, with --expose-gc, the heap that a
 * fire-and-forget burst keeps alive per queued emit.
 */
import { Session } from 'node:inspector/promises';
import { basename } from 'node:path';
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

interface SampledNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampledNode[];
}

const session = new Session();
session.connect();

async function allocated(body: () => Promise<void>): Promise<string> {
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  await body();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SampledNode } };
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (node: SampledNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? `${basename(url)}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  const top = [...byFunction]
    .toSorted((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([key, bytes]) => `${key} ${(bytes / COUNT).toFixed(0)}`);
  return `${(total / COUNT).toFixed(0).padStart(5)} B/emit  (${top.join(', ')})`;
}

async function measure(name: string, body: () => Promise<void>): Promise<void> {
  let fastest = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    await body();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start));
  }
  const bytes = await allocated(body);
  console.log(`${name.padEnd(44)} ${(fastest / COUNT).toFixed(0).padStart(6)} ns/emit ${bytes}`);
}

Logger.overrideLogger(false);
const socket = new XPublisher({ noDrop: true });
await socket.bind('tcp://127.0.0.1:*');
const client = new ZmqClient({ pubAddress: 'tcp://127.0.0.1:*', backpressure: 'block' });
await client.connect();

await measure('raw: await socket.send() loop', async () => {
  for (let i = 0; i < COUNT; i++) await socket.send(['bench', payload]);
});
// By default zeromq.js checks the socket's events (poll + getpid) before every send; with
// sendTimeout 0 it does not, unless a receive is pending, which it then checks after every send.
// The client sets sendTimeout 0 and leaves no receive pending while it sends.
const quick = new XPublisher({ noDrop: true, sendTimeout: 0 });
await quick.bind('tcp://127.0.0.1:*');
await measure('raw, sendTimeout 0', async () => {
  for (let i = 0; i < COUNT; i++) await quick.send(['bench', payload]);
});
const pendingReceive = quick.receive().catch(() => undefined);
await measure('raw, sendTimeout 0, a receive pending', async () => {
  for (let i = 0; i < COUNT; i++) await quick.send(['bench', payload]);
});
quick.close();
await pendingReceive;
await measure('bus: await lastValueFrom(client.emit()) loop', async () => {
  for (let i = 0; i < COUNT; i++) await lastValueFrom(client.emit('bench', [payload]));
});
await measure('bus: client.emit() x N, then await the last', async () => {
  let last: Observable<unknown> | undefined;
  for (let i = 0; i < COUNT; i++) last = client.emit('bench', [payload]);
  await lastValueFrom(last!);
});

const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const emits: Observable<unknown>[] = [];
  // Not connected yet: every emit stays queued, as in a burst that outruns the socket.
  const idle = new ZmqClient({ pubAddress: 'tcp://127.0.0.1:*' });
  for (let i = 0; i < COUNT; i++) emits.push(idle.emit('bench', [payload]));
  gc();
  const perEmit = (process.memoryUsage().heapUsed - before) / COUNT - 8;
  console.log(`${'heap kept per queued emit'.padEnd(44)} ${perEmit.toFixed(0).padStart(6)} bytes`);
  await idle.close();
}

session.disconnect();
await client.close();
socket.close();
