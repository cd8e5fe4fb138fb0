/**
 * One publisher or subscriber process of one run. The runner forks it with `ChildArgs` as JSON
 * in argv[2] and drives it over the IPC channel (see protocol.ts); setup happens before `ready`,
 * outside every timed region.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadPeer } from './peers/index.js';
import type { BenchPublisher, Payload } from './peers/peer.js';
import {
  type ChildArgs,
  type ChildMessage,
  now,
  type ParentMessage,
  PROBE_TOPIC,
  type Scenario,
  TOPIC,
} from './protocol.js';
import { Meter, RegionProfiler } from './measure.js';
import { Sink } from './sink.js';

const PROBE_INTERVAL_MS = 5;

function post(message: ChildMessage): void {
  process.send!(message);
}

function fail(error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (process.connected)
    process.send!({ type: 'error', message } satisfies ChildMessage, () => process.exit(1));
  else process.exit(1);
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
process.on('disconnect', () => process.exit(0));

function fixedPayload(scenario: Scenario, asBuffer: boolean): Payload {
  return asBuffer ? Buffer.alloc(scenario.payloadSize, 'x') : 'x'.repeat(scenario.payloadSize);
}

/** Sends `count` messages the scenario's way; latency payloads carry their send time. */
async function drive(publisher: BenchPublisher, scenario: Scenario, fixed: Payload, count: number) {
  const payload = scenario.latency ? () => String(now()) : () => fixed;
  if (scenario.mode === 'awaited' || (scenario.mode === 'burst' && !publisher.fire)) {
    for (let i = 0; i < count; i++) await publisher.send(TOPIC, payload());
  } else if (scenario.mode === 'burst') {
    for (let i = 0; i < count; i++) publisher.fire!(TOPIC, payload());
  } else {
    // Timers tick at best every millisecond: each tick sends the messages that fell due since the
    // last, so at 5k/s they leave in clumps of about five. Latency runs from each actual send.
    const interval = 1e9 / scenario.rate!;
    const start = now();
    let sent = 0;
    while (sent < count) {
      const due = Math.min(count, Math.floor(Number(now() - start) / interval) + 1);
      for (; sent < due; sent++) {
        if (publisher.fire) publisher.fire(TOPIC, payload());
        else await publisher.send(TOPIC, payload());
      }
      if (sent < count) await sleep(Math.max(0, (sent * interval - Number(now() - start)) / 1e6));
    }
  }
  await publisher.flush();
}

async function runPublisher(args: ChildArgs): Promise<void> {
  const peer = await loadPeer[args.peer]();
  const env = { scenario: args.scenario, endpoint: args.endpoint, servers: args.servers };
  const publisher = await peer.publisher(env);
  const fixed = fixedPayload(args.scenario, args.scenario.binary && peer.sendsBuffers);
  const profiler = args.profile && new RegionProfiler(args.profile);
  let probing: Promise<void> | undefined;
  const stopProbing = new AbortController();
  let round = 0;
  process.on('message', (message: ParentMessage) => {
    void (async () => {
      switch (message.type) {
        case 'probe':
          probing = (async () => {
            while (!stopProbing.signal.aborted) {
              await publisher.send(PROBE_TOPIC, 'p');
              await sleep(PROBE_INTERVAL_MS);
            }
          })();
          break;
        case 'stop-probing':
          stopProbing.abort();
          await probing;
          post({ type: 'probing-stopped' });
          break;
        case 'warmup':
          await drive(publisher, args.scenario, fixed, args.scenario.warmup);
          post({ type: 'warm-sent' });
          break;
        case 'run': {
          round++;
          if (round === 1) await profiler?.start();
          const meter = new Meter();
          const t0 = now();
          await drive(publisher, args.scenario, fixed, args.scenario.count);
          const tSent = now();
          const usage = meter.read();
          if (round === args.scenario.rounds) await profiler?.stop();
          post({ type: 'sent', round, t0: String(t0), tSent: String(tSent), usage });
          break;
        }
        case 'close':
          await close(() => publisher.close());
          break;
        default:
      }
    })().catch(fail);
  });
  post({ type: 'ready' });
}

/**
 * Objects held for the life of the process, `megabytes` of heap in all: small objects, strings
 * and arrays, the kind of graph a Nest application keeps (its heap is ~14 MB, a bare zeromq.js
 * process ~4 MB). Every major garbage collection has to mark them.
 */
function holdHeap(megabytes: number): void {
  const held: unknown[] = [];
  // ~146 bytes of heap an entry (measured with v8.getHeapStatistics() around the loop).
  for (let i = 0; i < (megabytes * 1e6) / 146; i++) held.push({ id: i, name: `entry ${i}`, tags: [i] });
  (globalThis as { benchHeldHeap?: unknown[] }).benchHeldHeap = held;
}

async function runSubscriber(args: ChildArgs): Promise<void> {
  if (args.rawHeapMb) holdHeap(args.rawHeapMb);
  const profiler = args.profile && new RegionProfiler(args.profile);
  const sink = new Sink(args.scenario, post, async () => profiler?.start());
  const peer = await loadPeer[args.peer]();
  const subscriber = await peer.subscriber(
    { scenario: args.scenario, endpoint: args.endpoint, servers: args.servers },
    sink,
  );
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'report') post({ type: 'count', ...sink.counts() });
    else if (message.type === 'close') {
      close(async () => {
        await profiler?.stop();
        await subscriber.close();
      }).catch(fail);
    }
  });
  post({ type: 'ready' });
}

async function close(closer: () => Promise<void>): Promise<void> {
  // The runner kills a child that does not exit; this is the orderly way out.
  await Promise.race([closer(), sleep(3000)]);
  process.disconnect();
  process.exit(0);
}

const args = JSON.parse(process.argv[2]!) as ChildArgs;
(args.role === 'pub' ? runPublisher(args) : runSubscriber(args)).catch(fail);
