import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Waiters } from './waiters.js';

/** Debian's pyzmq is importable only by the system interpreter, not the pyenv one on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./curve-peer.py', import.meta.url));

/** One JSON line of curve-peer.py. */
export interface PeerLine {
  ready?: string;
  curve?: boolean;
  event?: string;
  message?: string[];
}

export interface PeerKeys {
  publicKey?: string;
  secretKey?: string;
  serverKey?: string;
}

/** A pyzmq SUB or PUB in a child process (see curve-peer.py); `kill()` it in teardown. */
export class PythonPeer {
  readonly lines: PeerLine[] = [];
  readonly stderr: string[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiters = new Waiters();
  private exited = false;

  constructor(role: 'sub' | 'pub', endpoint: string, keys: PeerKeys = {}) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['PEER_PUBLIC_KEY', 'PEER_SECRET_KEY', 'PEER_SERVER_KEY']) delete env[name];
    if (keys.publicKey) env.PEER_PUBLIC_KEY = keys.publicKey;
    if (keys.secretKey) env.PEER_SECRET_KEY = keys.secretKey;
    if (keys.serverKey) env.PEER_SERVER_KEY = keys.serverKey;
    this.child = spawn(SYSTEM_PYTHON, [SCRIPT, role, endpoint], { env, stdio: 'pipe' });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as PeerLine);
      this.waiters.notify();
    });
    createInterface({ input: this.child.stderr }).on('line', (line) => this.stderr.push(line));
    this.child.on('exit', () => {
      this.exited = true;
      this.waiters.notify();
    });
  }

  get messages(): string[][] {
    return this.lines.flatMap((line) => (line.message ? [line.message] : []));
  }

  /** Resolves with the first line that matches; rejects on exit or after `timeoutMs`. */
  waitFor(match: (line: PeerLine) => boolean, what: string, timeoutMs = 15_000): Promise<PeerLine> {
    return this.waiters.until(
      () => {
        const line = this.lines.find(match);
        if (!line && this.exited)
          throw new Error(`pyzmq peer exited before ${what}: ${this.stderr.join('\n')}`);
        return line;
      },
      timeoutMs,
      () => new Error(`pyzmq peer: no ${what} within ${timeoutMs} ms; saw ${JSON.stringify(this.lines)}`),
    );
  }

  /** Asks the peer to stop (closes its stdin) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await exited;
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
