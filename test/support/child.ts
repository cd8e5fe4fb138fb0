import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Waiters } from './waiters.js';

/** A child process that speaks JSON lines on stdout; `next` waits for a line that matches. */
export class JsonLinesChild {
  readonly lines: Record<string, unknown>[] = [];
  private readonly waiters = new Waiters();
  readonly process: ChildProcess;

  constructor(script: string, args: string[]) {
    this.process = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      // Nest's logger writes to stdout too: only JSON lines are the child's messages.
      if (!line.startsWith('{')) return;
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
      this.waiters.notify();
    });
  }

  /** Resolves with the first line (from `from` on) that `match` accepts, or rejects after `timeoutMs`. */
  next(match: (line: Record<string, unknown>) => boolean, from = 0, timeoutMs = 15_000) {
    return this.waiters.until(
      () => this.lines.slice(from).find(match),
      timeoutMs,
      () => new Error(`no matching line within ${timeoutMs} ms; last: ${JSON.stringify(this.lines.at(-1))}`),
    );
  }

  /** SIGKILL: no shutdown hook runs, the sockets vanish as they would in a crash. */
  async kill(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGKILL');
    await exited;
  }
}
