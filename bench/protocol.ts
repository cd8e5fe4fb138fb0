import type { ProfileRequest } from './measure.js';

/** What the runner and its child processes (publishers and subscribers) say to each other. */

export const PEERS = ['raw-zmq', 'bus', 'nest-redis', 'nest-nats'] as const;
export type PeerName = (typeof PEERS)[number];

export const PEER_LABELS: Record<PeerName, string> = {
  'raw-zmq': 'raw zeromq.js',
  bus: 'this bus',
  'nest-redis': 'Nest Redis',
  'nest-nats': 'Nest NATS',
};

export const WORKLOADS = ['awaited', 'burst', 'size', 'fanout', 'latency'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/**
 * `awaited`: each emit awaited before the next. `burst`: every emit fired without awaiting
 * (raw zeromq.js allows one pending send per socket, so it awaits each send in a tight loop).
 * `paced`: emits at a fixed rate.
 */
export type SendMode = 'awaited' | 'burst' | 'paced';

/** One measured run: one workload (one size for `size`), for one peer. */
export interface Scenario {
  workload: WorkloadName;
  /** Row name in the table, e.g. `size 64 KiB`. */
  label: string;
  mode: SendMode;
  warmup: number;
  /** Timed messages per round, per subscriber. */
  count: number;
  /** Timed rounds in the same processes; the table shows the median round. */
  rounds: number;
  payloadSize: number;
  /** Send the payload as bytes where the transport carries bytes (zeromq), else as a string. */
  binary: boolean;
  subscribers: number;
  /** `paced` only: messages per second. */
  rate?: number;
  /** The payload is the send time; subscribers record one-way latency. */
  latency: boolean;
}

export interface ServerAddresses {
  redis?: { host: string; port: number };
  nats?: { url: string };
}

export interface ChildArgs {
  role: 'pub' | 'sub';
  peer: PeerName;
  scenario: Scenario;
  /** ZeroMQ peers: where the publisher binds and subscribers connect. */
  endpoint?: string;
  servers: ServerAddresses;
  /** Write a V8 profile of this child's timed region. */
  profile?: ProfileRequest;
  /** Raw zeromq.js subscribers only: megabytes of live heap to hold, as a Nest app does. */
  rawHeapMb?: number;
}

export interface Usage {
  maxRssBytes: number;
  rssBytes: number;
  /** CPU time spent in the timed region. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Garbage collections in the timed region, and their total pause. */
  gcCount: number;
  gcMs: number;
}

export interface LatencySummary {
  /** Microseconds. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/**
 * Times are `process.hrtime.bigint()` as decimal strings: CLOCK_MONOTONIC on Linux, one clock
 * for every process on the machine, so a publisher's and a subscriber's readings compare.
 */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'probed' }
  | { type: 'probing-stopped' }
  | { type: 'warm-sent' }
  | { type: 'warm' }
  | { type: 'sent'; round: number; t0: string; tSent: string; usage: Usage }
  | { type: 'done'; round: number; tLast: string; received: number; usage: Usage; latency?: LatencySummary }
  | { type: 'count'; received: number; warmupReceived: number }
  | { type: 'error'; message: string };

export type ParentMessage =
  | { type: 'probe' }
  | { type: 'stop-probing' }
  | { type: 'warmup' }
  | { type: 'run' }
  | { type: 'report' }
  | { type: 'close' };

export const TOPIC = 'bench';
export const PROBE_TOPIC = 'probe';

export function now(): bigint {
  return process.hrtime.bigint();
}
