import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process that speaks JSON lines on stdout; `next` waits for a line that matches. */
export class JsonLinesChild {
  readonly lines: Record<string, unknown>[] = [];
  private readonly waiters = new Set<() => void>();
  readonly process: ChildProcess;

  constructor(script: string, args: string[]) {
    this.process = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      // Nest's logger writes to stdout too: only JSON lines are the child's messages.
      if (!line.startsWith('{')) return;
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const check of this.waiters) check();
    });
  }

  /** Resolves with the first line (from `from` on) that `match` accepts, or rejects after `timeoutMs`. */
  next(match: (line: Record<string, unknown>) => boolean, from = 0, timeoutMs = 15_000) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(`no matching line within ${timeoutMs} ms; last: ${JSON.stringify(this.lines.at(-1))}`),
        );
      }, timeoutMs);
      const check = () => {
        const found = this.lines.slice(from).find(match);
        if (found) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(found);
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGKILL: no shutdown hook runs, the sockets vanish as they would in a crash. */
  async kill(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGKILL');
    await exited;
  }
}
