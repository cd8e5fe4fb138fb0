import { Meter } from './measure.js';
import { type ChildMessage, type LatencySummary, now, type Scenario } from './protocol.js';

/** Where a subscriber's handler hands each message: counts them, times the last, records latency. */
export class Sink {
  private received = 0;
  private rounds = 0;
  private probed = false;
  private readonly latencies: Float64Array | undefined;
  private readonly meter = new Meter();

  constructor(
    private readonly scenario: Scenario,
    private readonly post: (message: ChildMessage) => void,
    /** Runs once the warm-up is in, before the runner is told so (e.g. to start a profiler). */
    private readonly onWarm: () => Promise<void> = async () => undefined,
  ) {
    this.latencies = scenario.latency ? new Float64Array(scenario.count) : undefined;
  }

  probe(): void {
    if (this.probed) return;
    this.probed = true;
    this.post({ type: 'probed' });
  }

  /** `value` is whatever the handler got: a string, a Buffer, or an array of parts. */
  data(value: unknown): void {
    const at = now();
    const n = ++this.received;
    const { warmup, count } = this.scenario;
    if (this.latencies && n > warmup && n <= warmup + count) {
      this.latencies[n - warmup - 1] = Number(at - BigInt(text(value)));
    }
    if (n === warmup) {
      void this.onWarm().then(() => {
        this.meter.start();
        this.post({ type: 'warm' });
      });
    } else if (n > warmup && (n - warmup) % count === 0) {
      this.rounds++;
      this.post({
        type: 'done',
        round: this.rounds,
        tLast: String(at),
        received: count,
        usage: this.meter.read(),
        latency: this.rounds === 1 && this.latencies ? summarize(this.latencies) : undefined,
      });
      this.meter.start();
    }
  }

  counts(): { received: number; warmupReceived: number } {
    const { warmup, count } = this.scenario;
    return {
      received: Math.max(0, this.received - warmup - this.rounds * count),
      warmupReceived: Math.min(this.received, warmup),
    };
  }
}

function text(value: unknown): string {
  const first = Array.isArray(value) ? (value[0] as unknown) : value;
  return typeof first === 'string' ? first : String(first);
}

function summarize(nanoseconds: Float64Array): LatencySummary {
  const sorted = nanoseconds.toSorted();
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! / 1000;
  let sum = 0;
  for (const value of sorted) sum += value;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1), mean: sum / sorted.length / 1000 };
}
