import { type ChildProcess, fork } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import type { ControlCommand, ControlEvent } from '../app/demo-control.js';

/** How one instance of the example is started: its name and the bus addresses it gets. */
export interface InstanceSpec {
  name: string;
  pubAddress: string;
  subAddresses: string[];
  /** More environment variables for this instance. */
  env?: Record<string, string>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type EventOf<T extends ControlEvent['type']> = Extract<ControlEvent, { type: T }>;

/**
 * One instance of the example application (`dist/main.js`) in a child process, driven over Node's
 * IPC channel (see `src/app/demo-control.ts`). Its log lines go to `onLine`.
 */
export class InstanceProcess {
  readonly events: ControlEvent[] = [];
  /** Every line the instance wrote to stdout or stderr. */
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(
    script: string,
    readonly spec: InstanceSpec,
    onLine: (line: string) => void = () => undefined,
  ) {
    this.child = fork(script, [], {
      silent: true,
      env: {
        ...process.env,
        // Nest colours its logs even into a pipe; whoever reads the lines wants them plain.
        NO_COLOR: '1',
        ...spec.env,
        INSTANCE_NAME: spec.name,
        ZMQ_ADDRESS_PUB: spec.pubAddress,
        ZMQ_ADDRESS_SUB: spec.subAddresses.join(', '),
        // Several instances on one machine must not all claim one HTTP port.
        HTTP_PORT: spec.env?.HTTP_PORT ?? '',
      },
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.lines.push(line);
        onLine(line);
      });
    }
    this.child.on('message', (event: ControlEvent) => {
      this.events.push(event);
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.wake();
        resolve(this.exit);
      });
    });
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(command: ControlCommand): void {
    if (!this.child.connected) throw new Error(`${this.name} is not running (cannot send ${command.type})`);
    this.child.send(command);
  }

  /** The first event of this type (already received or to come) that `accept` accepts. */
  waitFor<T extends ControlEvent['type']>(
    type: T,
    timeoutMs: number,
    accept: (event: EventOf<T>) => boolean = () => true,
  ): Promise<EventOf<T>> {
    const found = (): EventOf<T> | undefined =>
      this.events.find((event): event is EventOf<T> => event.type === type && accept(event as EventOf<T>));
    return this.until(found, timeoutMs, `the "${type}" event`);
  }

  /** Resolves with `check()` once it returns a value, on each event; fails on timeout, exit or `failed`. */
  until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const finish = (outcome: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(poll);
        outcome();
      };
      const poll = (): void => {
        const value = check();
        const failure = this.events.find((event) => event.type === 'failed');
        if (value !== undefined) finish(() => resolve(value));
        else if (failure?.type === 'failed')
          finish(() => reject(new Error(`${this.name}: ${failure.command} failed: ${failure.message}`)));
        else if (this.exit)
          finish(() => reject(new Error(`${this.name} exited (${describeExit(this.exit!)}) before ${what}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      this.waiters.add(poll);
      poll();
    });
  }

  /** Sends `signal` and waits for the exit; past `timeoutMs`, kills with SIGKILL and reports that. */
  async stop(timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit & { killed: boolean }> {
    if (this.exit) return { ...this.exit, killed: false };
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)),
    );
    const exit = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (exit) return { ...exit, killed: false };
    this.kill();
    return { ...(await this.exited), killed: true };
  }

  /** Closes the IPC channel, as the parent's death would. */
  disconnect(): void {
    if (this.child.connected) this.child.disconnect();
  }

  /** SIGKILL if still running: for teardown after a failure. */
  kill(): void {
    if (!this.exit && this.child.exitCode === null && this.child.signalCode === null)
      this.child.kill('SIGKILL');
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
  }
}

export function describeExit({ code, signal }: Exit): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/**
 * `count` distinct free loopback TCP ports, picked by the kernel. All are held open together so
 * that they differ, then released for the instances to bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
