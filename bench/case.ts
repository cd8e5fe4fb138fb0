import { type ChildProcess, fork } from 'node:child_process';
import { type Broker, freePort } from './servers.js';
import type {
  ChildArgs,
  ChildMessage,
  LatencySummary,
  ParentMessage,
  PeerName,
  Scenario,
  ServerAddresses,
  Usage,
} from './protocol.js';

const CHILD_SCRIPT = new URL('./child.js', import.meta.url);
const SETUP_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 15_000;
const WARMUP_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 300_000;
const MIN_GRACE_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface RoundResult {
  /** From the first timed send to the last delivery at the slowest subscriber. */
  seconds: number;
  /** From the first timed send until the publisher had handed over the last. */
  sendSeconds: number;
  /** Deliveries per second, all subscribers together. */
  rate: number;
  /** The publisher's peak RSS so far. */
  publisherMaxRssBytes: number;
}

export type CaseStatus = 'ok' | 'loss' | 'error' | 'skipped';

export interface CaseResult {
  peer: PeerName;
  workload: Scenario['workload'];
  label: string;
  payloadSize: number;
  subscribers: number;
  status: CaseStatus;
  /** Why the case is not `ok`. */
  detail?: string;
  /** Timed messages sent per round, each meant for every subscriber. */
  sent: number;
  /** Timed messages each subscriber received in the last round run. */
  received: number[];
  /** Every round run; the figures below are the median round's (by rate). */
  rounds?: RoundResult[];
  seconds?: number;
  sendSeconds?: number;
  /** Deliveries per second, all subscribers together. */
  rate?: number;
  /** Payload bytes delivered per second, all subscribers together. */
  bytesPerSec?: number;
  latency?: LatencySummary;
  publisher?: Usage;
  subscriberUsage?: Usage[];
}

/** Every child alive, so that an interrupted run can kill them. */
export const live = new Set<ChildProcess>();

class Child {
  private readonly process: ChildProcess;
  private readonly inbox: ChildMessage[] = [];
  private readonly waiters = new Set<() => void>();
  private stderr = '';
  private ended: string | undefined;

  constructor(
    readonly name: string,
    args: ChildArgs,
  ) {
    this.process = fork(CHILD_SCRIPT, [JSON.stringify(args)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    live.add(this.process);
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.process.on('message', (message: ChildMessage) => {
      if (message.type === 'error') this.ended ??= `${this.name} failed: ${message.message}`;
      else this.inbox.push(message);
      this.wake();
    });
    this.process.once('exit', (code, signal) => {
      live.delete(this.process);
      this.ended ??= `${this.name} exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim()}` : ''}`;
      this.wake();
    });
  }

  send(message: ParentMessage): void {
    if (this.process.connected) this.process.send(message);
  }

  /** The next message of this type (perhaps already received), or a rejection after `timeoutMs`. */
  next<T extends ChildMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const index = this.inbox.findIndex((message) => message.type === type);
        if (index !== -1) {
          done();
          resolve(this.inbox.splice(index, 1)[0] as Extract<ChildMessage, { type: T }>);
        } else if (this.ended) {
          done();
          reject(new Error(this.ended));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new TimeoutError(`${this.name}: no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.send({ type: 'close' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private wake(): void {
    for (const check of this.waiters) check();
  }
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export interface CaseOptions {
  servers: ServerAddresses;
  /** Write V8 profiles of each child's timed region into this folder. */
  profile?: { dir: string; kind: 'cpu' | 'heap' };
  /** Give raw zeromq.js subscribers this many megabytes of live heap (`--raw-heap-mb`). */
  rawHeapMb?: number;
}

/** Runs one scenario for one peer in fresh processes: one publisher, `scenario.subscribers` subscribers. */
export async function runCase(peer: PeerName, scenario: Scenario, options: CaseOptions): Promise<CaseResult> {
  const result: CaseResult = {
    peer,
    workload: scenario.workload,
    label: scenario.label,
    payloadSize: scenario.payloadSize,
    subscribers: scenario.subscribers,
    status: 'error',
    sent: scenario.count,
    received: [],
  };
  const children: Child[] = [];
  const spawn = (role: 'pub' | 'sub', name: string, endpoint?: string): Child => {
    const profile = options.profile && {
      ...options.profile,
      name: `${peer}-${scenario.label.replace(/\W+/g, '_')}-${name.replace(/\W+/g, '_')}`,
    };
    const rawHeapMb = peer === 'raw-zmq' && role === 'sub' ? options.rawHeapMb : undefined;
    const child = new Child(name, {
      role,
      peer,
      scenario,
      endpoint,
      servers: options.servers,
      profile,
      rawHeapMb,
    });
    children.push(child);
    return child;
  };
  try {
    // Started together: a subscriber may connect before the publisher binds, ZeroMQ reconnects.
    const endpoint = peer === 'raw-zmq' || peer === 'bus' ? `tcp://127.0.0.1:${await freePort()}` : undefined;
    const publisher = spawn('pub', `${peer} publisher`, endpoint);
    const subscribers = Array.from({ length: scenario.subscribers }, (_, i) =>
      spawn('sub', `${peer} subscriber ${i + 1}`, endpoint),
    );
    await Promise.all([publisher, ...subscribers].map((child) => child.next('ready', SETUP_TIMEOUT_MS)));

    publisher.send({ type: 'probe' });
    await Promise.all(subscribers.map((sub) => sub.next('probed', PROBE_TIMEOUT_MS)));
    publisher.send({ type: 'stop-probing' });
    await publisher.next('probing-stopped', PROBE_TIMEOUT_MS);

    const warmStarted = Date.now();
    publisher.send({ type: 'warmup' });
    try {
      await publisher.next('warm-sent', WARMUP_TIMEOUT_MS);
      const grace = Math.max(MIN_GRACE_MS, 2 * (Date.now() - warmStarted));
      await Promise.all(subscribers.map((sub) => sub.next('warm', grace)));
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      const counts = await Promise.all(subscribers.map((sub) => report(sub)));
      result.status = 'loss';
      result.received = counts.map(() => 0);
      result.detail =
        `lost in warm-up: received ${counts.map((count) => count.warmupReceived).join(', ')} ` +
        `of ${scenario.warmup}`;
      return result;
    }

    const rounds: RoundResult[] = [];
    for (let round = 1; round <= scenario.rounds; round++) {
      publisher.send({ type: 'run' });
      const sent = await publisher.next('sent', RUN_TIMEOUT_MS);
      const t0 = BigInt(sent.t0);
      const sendNs = Number(BigInt(sent.tSent) - t0);
      // The first round's usage: peak RSS in one burst (V8 keeps its grown heap for later rounds).
      if (round === 1) result.publisher = sent.usage;
      const grace = Math.max(MIN_GRACE_MS, (2 * sendNs) / 1e6);
      const outcomes = await Promise.all(
        subscribers.map((sub) =>
          sub.next('done', grace).catch(async (error: unknown) => {
            if (!(error instanceof TimeoutError)) throw error;
            return report(sub);
          }),
        ),
      );
      result.received = outcomes.map((outcome) => outcome.received);
      const done = outcomes.filter((outcome) => outcome.type === 'done');
      if (done.length < outcomes.length) {
        result.status = 'loss';
        const least = Math.min(...result.received);
        result.detail =
          `lost ${scenario.count - least} of ${scenario.count} in round ${round} ` +
          `(received ${result.received.join(', ')})`;
        result.rounds = rounds;
        return result;
      }
      if (round === 1) result.subscriberUsage = done.map((outcome) => outcome.usage);
      if (round === 1 && scenario.latency) result.latency = done[0]!.latency;
      const tLast = done.reduce(
        (latest, outcome) => (BigInt(outcome.tLast) > latest ? BigInt(outcome.tLast) : latest),
        t0,
      );
      const seconds = Number(tLast - t0) / 1e9;
      rounds.push({
        seconds,
        sendSeconds: sendNs / 1e9,
        rate: (scenario.count * scenario.subscribers) / seconds,
        publisherMaxRssBytes: sent.usage.maxRssBytes,
      });
    }
    result.rounds = rounds;
    const median = rounds.toSorted((a, b) => a.rate - b.rate)[Math.floor((rounds.length - 1) / 2)]!;
    result.seconds = median.seconds;
    result.sendSeconds = median.sendSeconds;
    result.rate = median.rate;
    result.bytesPerSec = median.rate * scenario.payloadSize;
    result.status = 'ok';
    return result;
  } catch (error) {
    result.status = 'error';
    result.detail = error instanceof Error ? error.message : String(error);
    return result;
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

async function report(sub: Child): Promise<Extract<ChildMessage, { type: 'count' }>> {
  sub.send({ type: 'report' });
  return sub.next('count', PROBE_TIMEOUT_MS);
}

export function brokerAddresses(redis: Broker | undefined, nats: Broker | undefined): ServerAddresses {
  return {
    redis: redis?.ok ? { host: redis.host, port: redis.port } : undefined,
    nats: nats?.ok ? { url: `nats://${nats.host}:${nats.port}` } : undefined,
  };
}
