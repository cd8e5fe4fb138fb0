import { type Exit, ForkedProcess } from '../demo/forked-process.js';
import { freePorts } from '../demo/instance-process.js';
import type { SoakCommand, SoakEvent, SoakPhase } from './protocol.js';

export interface SoakOptions {
  /** Messages published in all, split evenly between the instances. */
  messages: number;
  /** Emits each instance may have in flight. Default 1000. */
  window?: number;
  /** Share of each instance's messages sent as warm-up, before memory is measured. Default 0.1. */
  warmup?: number;
  /** Upper bound for each phase; default 60 s plus 1 ms per message. */
  phaseTimeoutMs?: number;
  /** Told when a phase starts and ends. */
  onProgress?: (message: string) => void;
}

export interface SoakMeshOptions {
  /** Instance names; default alpha, beta, gamma. */
  names?: string[];
  /** Every line an instance writes, with its name. */
  onLine?: (name: string, line: string) => void;
  /** Upper bound for the instances to start and see each other subscribed. Default 30 s. */
  startTimeoutMs?: number;
}

/** What one instance sent and heard, and its memory over the main phase. */
export interface SoakResult {
  name: string;
  sent: number;
  failed: number;
  /** What the other instances sent, which this one should have received. */
  expected: number;
  received: number;
  /** Received from each peer, by name. */
  from: Record<string, number>;
  duplicates: number;
  lost: number;
  rss: { start: number; peak: number; end: number; samples: number };
  /** `rss.end - rss.start`, in bytes. */
  growth: number;
  /** V8 heap in use at the end, in bytes. */
  heapUsed: number;
}

/** One instance (`dist/soak/instance.js`) in a child process, driven over IPC. */
type SoakChild = ForkedProcess<SoakCommand, SoakEvent>;

const STOP_TIMEOUT_MS = 10_000;

/**
 * Three (or more) instances in a full mesh on loopback, each publishing with `backpressure: 'block'`
 * and subscribed to every other one. `kill()` is safe at any time, and must be called if `run()`
 * is abandoned.
 */
export class SoakMesh {
  private constructor(private readonly children: SoakChild[]) {}

  static async start(
    script: string,
    {
      names = ['alpha', 'beta', 'gamma'],
      onLine = () => undefined,
      startTimeoutMs = 30_000,
    }: SoakMeshOptions = {},
  ): Promise<SoakMesh> {
    const ports = await freePorts(names.length);
    const addresses = ports.map((port) => `tcp://127.0.0.1:${port}`);
    const children = names.map(
      (name, i) =>
        new ForkedProcess<SoakCommand, SoakEvent>(
          script,
          name,
          {
            INSTANCE_NAME: name,
            ZMQ_ADDRESS_PUB: addresses[i]!,
            ZMQ_ADDRESS_SUB: addresses.filter((_, j) => j !== i).join(', '),
            ZMQ_BACKPRESSURE: 'block',
          },
          (line) => onLine(name, line),
        ),
    );
    const mesh = new SoakMesh(children);
    try {
      await Promise.all(children.map((child) => child.waitFor('up', startTimeoutMs)));
      for (const child of children) {
        child.send({ type: 'await-peers', count: children.length - 1, timeoutMs: startTimeoutMs });
      }
      await Promise.all(children.map((child) => child.waitFor('ready', startTimeoutMs + 1000)));
    } catch (error) {
      mesh.kill();
      throw error;
    }
    return mesh;
  }

  /**
   * Publishes `messages` in all, warm-up then main phase, and reports what each instance saw.
   * Once per mesh. On failure (a timeout, an instance that failed or died), the error carries
   * the `results` collected so far.
   */
  async run({
    messages,
    window = 1000,
    warmup = 0.1,
    phaseTimeoutMs = 60_000 + messages,
    onProgress = () => undefined,
  }: SoakOptions): Promise<SoakResult[]> {
    const n = this.children.length;
    const shares = this.children.map((_, i) => Math.floor(messages / n) + (i < messages % n ? 1 : 0));
    const warmups = shares.map((share) => Math.floor(share * warmup));
    const others = (i: number) =>
      this.children.flatMap((child, j) => (j === i ? [] : [[child.name, j] as const]));

    const phase = async (name: SoakPhase, send: (i: number) => number, total: (j: number) => number) => {
      const started = Date.now();
      onProgress(`${name}: ${shares.reduce((sum, _, i) => sum + send(i), 0).toLocaleString('en')} messages`);
      this.children.forEach((child, i) =>
        child.send({
          type: 'phase',
          name,
          send: send(i),
          window,
          expect: Object.fromEntries(others(i).map(([peer, j]) => [peer, total(j)])),
        }),
      );
      await Promise.all(
        this.children.map((child) =>
          child.waitFor('phase-done', phaseTimeoutMs, (event) => event.name === name),
        ),
      );
      onProgress(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    };

    let failure: unknown;
    try {
      await phase(
        'warmup',
        (i) => warmups[i]!,
        (j) => warmups[j]!,
      );
      await phase(
        'main',
        (i) => shares[i]! - warmups[i]!,
        (j) => shares[j]!,
      );
    } catch (error) {
      // Still collect what each instance counted, to show where messages went missing.
      failure = error;
    }
    const results = await this.report(shares, others);
    if (failure) {
      const counts = results.map((r) => `${r.name} ${r.received}/${r.expected}`).join(', ');
      throw Object.assign(new Error(`${asError(failure).message} (received: ${counts})`), { results });
    }
    return results;
  }

  /** Asks each instance to close its app and exit; kills those still running after 10 s. */
  async stop(): Promise<void> {
    for (const child of this.children) {
      try {
        child.send({ type: 'stop' });
      } catch {
        // already gone
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)));
    await Promise.race([Promise.all(this.children.map((child) => child.exited)), late]);
    clearTimeout(timer);
    this.kill();
    await Promise.all(this.children.map((child) => child.exited));
  }

  kill(): void {
    for (const child of this.children) child.kill();
  }

  /** How each instance exited, by name, once stopped. */
  get exits(): Record<string, Exit | undefined> {
    return Object.fromEntries(this.children.map((child) => [child.name, child.exit]));
  }

  private async report(
    shares: number[],
    others: (i: number) => (readonly [string, number])[],
  ): Promise<SoakResult[]> {
    const reports = await Promise.all(
      this.children.map((child, i) => {
        child.send({ type: 'report' });
        return child.waitFor('report', STOP_TIMEOUT_MS).then((report) => ({ report, i }));
      }),
    );
    return reports.map(({ report, i }) => {
      const from = Object.fromEntries(others(i).map(([peer]) => [peer, report.from[peer]?.received ?? 0]));
      const duplicates = Object.values(report.from).reduce((sum, peer) => sum + peer.duplicates, 0);
      const expected = others(i).reduce((sum, [, j]) => sum + shares[j]!, 0);
      const received = Object.values(from).reduce((sum, count) => sum + count, 0);
      const rss = report.rss ?? { start: 0, peak: 0, end: 0, samples: 0 };
      return {
        name: report.instance,
        sent: report.sent,
        failed: report.failed,
        expected,
        received,
        from,
        duplicates,
        lost: expected - (received - duplicates),
        rss,
        growth: rss.end - rss.start,
        heapUsed: report.heapUsed,
      };
    });
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
