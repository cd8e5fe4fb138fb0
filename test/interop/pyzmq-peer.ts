import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Waiters } from '../support/waiters.js';

/** Debian's interpreter: python3-zmq is installed for it, not for a pyenv `python3` on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const PEER_SCRIPT = fileURLToPath(new URL('./peer.py', import.meta.url));

/** A line the peer printed; see peer.py for the protocol. */
export interface PeerEvent {
  event: string;
  endpoint?: string;
  frames?: string[];
  message?: string;
  sent?: number;
  zmq?: string;
  pyzmq?: string;
}

let availability: { ok: true; versions: string } | { ok: false; why: string } | undefined;

/** `libzmq x / pyzmq y` as seen by the system interpreter, or an error saying how to install it. */
export function pyzmqVersions(): string {
  if (!availability) {
    const probe = spawnSync(
      SYSTEM_PYTHON,
      ['-I', '-c', "import zmq; print('libzmq', zmq.zmq_version(), '/ pyzmq', zmq.pyzmq_version())"],
      { encoding: 'utf8', timeout: 30_000 },
    );
    availability =
      probe.status === 0
        ? { ok: true, versions: probe.stdout.trim() }
        : {
            ok: false,
            why: (probe.error?.message ?? probe.stderr.trim()) || `exit status ${probe.status}`,
          };
  }
  if (!availability.ok) {
    throw new Error(
      `pyzmq is not importable by ${SYSTEM_PYTHON} (${availability.why}). The interop tests need ` +
        "Debian's python3-zmq: apt-get install -y --no-install-recommends python3-zmq (.ci/run does it).",
    );
  }
  return availability.versions;
}

/** Frames as the peer protocol and the assertions show them: lowercase hex, one string a frame. */
export function hex(frames: readonly (string | Uint8Array)[]): string[] {
  return frames.map((frame) => Buffer.from(frame).toString('hex'));
}

/**
 * test/interop/peer.py in a child process: a PUB that binds or a SUB that connects, driven with
 * JSON lines. Every wait is bounded and fails with what the peer said on stderr.
 */
export class PyzmqPeer {
  private readonly events: PeerEvent[] = [];
  private readonly stderr: string[] = [];
  private readonly changed = new Waiters();
  private exit: string | undefined;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as PeerEvent);
      } catch {
        this.events.push({ event: 'error', message: `unparsable line from peer.py: ${line}` });
      }
      this.notify();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    // A write after the peer died would otherwise crash the test worker with EPIPE.
    child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = signal ? `killed by ${signal}` : `exited with ${code}`;
        this.notify();
        resolve();
      });
      child.once('error', (error) => {
        this.exit = `could not run: ${error.message}`;
        this.notify();
        resolve();
      });
    });
  }

  /** A PUB bound to `endpoint`; resolves with the bound endpoint (the real port for `tcp://…:*`). */
  static async publisher(endpoint: string): Promise<{ peer: PyzmqPeer; endpoint: string }> {
    const peer = PyzmqPeer.spawn(['pub', endpoint]);
    const bound = await peer.next('bound');
    return { peer, endpoint: bound.endpoint! };
  }

  /** A SUB connected to `endpoint` and subscribed to `topics`. */
  static async subscriber(endpoint: string, topics: string[]): Promise<PyzmqPeer> {
    const peer = PyzmqPeer.spawn(['sub', endpoint, ...topics.flatMap((topic) => ['--subscribe', topic])]);
    await peer.next('ready');
    return peer;
  }

  private static spawn(args: string[]): PyzmqPeer {
    pyzmqVersions();
    const child = spawn(SYSTEM_PYTHON, ['-I', PEER_SCRIPT, ...args, '--max-seconds', '120'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new PyzmqPeer(child);
  }

  /** Sends one message; each frame is a string (UTF-8) or raw bytes. */
  async send(frames: readonly (string | Uint8Array)[]): Promise<void> {
    this.command({ op: 'send', frames: hex(frames) });
    await this.next('sent');
  }

  /**
   * Slow joiner: publishes `[topic, n]` every `intervalMs` until `arrived` resolves (the Nest
   * handler saw one), then stops the probes. Bounded by `max` probes on the Python side.
   */
  async probeUntil(topic: string, arrived: Promise<unknown>, intervalMs = 20, max = 1000): Promise<number> {
    // Before the ack, "probed" can only settle as a failure: the peer gave up or died.
    const probed = this.next('probed', intervalMs * max + 10_000);
    probed.catch(() => undefined);
    arrived.catch(() => undefined);
    this.command({ op: 'probe', topic, interval_ms: intervalMs, max });
    await Promise.race([arrived, probed]);
    this.command({ op: 'ack' });
    return (await probed).sent!;
  }

  /** The next event of this kind, in order; fails at once if the peer reports an error or exits. */
  next(kind: string, timeoutMs = 15_000): Promise<PeerEvent> {
    return this.changed.until(
      () => {
        const index = this.events.findIndex((event) => event.event === kind || event.event === 'error');
        if (index === -1) {
          if (this.exit !== undefined) throw this.failure(`${this.exit} while the test waited for "${kind}"`);
          return undefined;
        }
        const [event] = this.events.splice(index, 1);
        if (event!.event === 'error') throw this.failure(`reported: ${event!.message}`);
        return event;
      },
      timeoutMs,
      () => this.failure(`said no "${kind}" within ${timeoutMs} ms`),
    );
  }

  /** Closes stdin, which makes the peer exit; kills it if it has not exited within 5 s. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    if (this.exit !== undefined) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  private command(command: object): void {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  private notify(): void {
    this.changed.notify();
  }

  private failure(what: string): Error {
    const stderr = this.stderr.join('').trim();
    return new Error(`peer.py ${what}${stderr ? `\n--- peer.py stderr ---\n${stderr}` : ''}`);
  }
}
