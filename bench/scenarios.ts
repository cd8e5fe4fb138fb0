import type { Scenario, WorkloadName } from './protocol.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const SIZES = [16, KiB, 64 * KiB, MiB] as const;
export const FANOUT_SUBSCRIBERS = 4;
export const LATENCY_RATE = 5000;

export function sizeLabel(bytes: number): string {
  if (bytes >= MiB) return `${bytes / MiB} MiB`;
  if (bytes >= KiB) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

interface Counts {
  awaited: number;
  burst: number;
  /** Messages per size: fewer for big ones, so each size moves a comparable volume. */
  size: Record<(typeof SIZES)[number], number>;
  fanout: number;
  latencySeconds: number;
  /** Rounds of every workload but latency (one long round). */
  rounds: number;
}

const FULL: Counts = {
  awaited: 50_000,
  burst: 200_000,
  size: { 16: 100_000, [KiB]: 50_000, [64 * KiB]: 8_000, [MiB]: 512 },
  fanout: 50_000,
  latencySeconds: 5,
  rounds: 3,
};

const SMOKE: Counts = {
  awaited: 300,
  burst: 2_000,
  size: { 16: 300, [KiB]: 300, [64 * KiB]: 40, [MiB]: 8 },
  fanout: 300,
  latencySeconds: 0.2,
  rounds: 2,
};

/** Warm-up: a tenth of the run (at least a few), so JIT and socket buffers are settled. */
function warm(count: number): number {
  return Math.max(4, Math.ceil(count / 10));
}

export function scenarios(smoke: boolean, only?: ReadonlySet<WorkloadName>): Scenario[] {
  const c = smoke ? SMOKE : FULL;
  const base = { payloadSize: 16, binary: false, subscribers: 1, latency: false, rounds: c.rounds } as const;
  const all: Scenario[] = [
    {
      ...base,
      workload: 'awaited',
      label: 'awaited',
      mode: 'awaited',
      count: c.awaited,
      warmup: warm(c.awaited),
    },
    {
      ...base,
      workload: 'burst',
      label: `burst ${c.burst / 1000}k`,
      mode: 'burst',
      count: c.burst,
      warmup: warm(c.burst),
    },
    ...SIZES.map((size): Scenario => ({
      ...base,
      workload: 'size',
      label: `size ${sizeLabel(size)}`,
      mode: 'burst',
      payloadSize: size,
      binary: true,
      count: c.size[size],
      warmup: warm(c.size[size]),
    })),
    {
      ...base,
      workload: 'fanout',
      label: `fan-out x${FANOUT_SUBSCRIBERS}`,
      mode: 'burst',
      subscribers: FANOUT_SUBSCRIBERS,
      count: c.fanout,
      warmup: warm(c.fanout),
    },
    {
      ...base,
      workload: 'latency',
      label: `latency @${LATENCY_RATE / 1000}k/s`,
      mode: 'paced',
      rate: LATENCY_RATE,
      latency: true,
      rounds: 1,
      count: Math.round(LATENCY_RATE * c.latencySeconds),
      warmup: Math.round(LATENCY_RATE * c.latencySeconds * 0.2),
    },
  ];
  return only ? all.filter((scenario) => only.has(scenario.workload)) : all;
}
