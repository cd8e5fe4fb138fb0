import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The message a forked instance sends when a command of its parent failed. */
interface Failure {
  type: 'failed';
  command: string;
  message: string;
}

type Typed = { type: string };
type EventOf<E extends Typed, T extends E['type']> = Extract<E, { type: T }>;

/**
 * A Node script in a child process, driven over Node's IPC channel: it receives `Command`s and
 * sends `Event`s (a `{ type: 'failed' }` event fails whatever is waiting). Its stdout and stderr
 * lines go to `onLine`.
 */
export class ForkedProcess<Command extends Typed, Event extends Typed> {
  readonly events: Event[] = [];
  /** Every line the child wrote to stdout or stderr. */
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(
    script: string,
    readonly name: string,
    env: Record<string, string>,
    onLine: (line: string) => void = () => undefined,
  ) {
    // Nest colours its logs even into a pipe; whoever reads the lines wants them plain.
    this.child = fork(script, [], { silent: true, env: { ...process.env, NO_COLOR: '1', ...env } });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.lines.push(line);
        onLine(line);
      });
    }
    this.child.on('message', (event: Event) => {
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

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(command: Command): void {
    if (!this.child.connected) throw new Error(`${this.name} is not running (cannot send ${command.type})`);
    this.child.send(command);
  }

  /** The first event of this type (already received or to come) that `accept` accepts. */
  waitFor<T extends Event['type']>(
    type: T,
    timeoutMs: number,
    accept: (event: EventOf<Event, T>) => boolean = () => true,
  ): Promise<EventOf<Event, T>> {
    const found = (): EventOf<Event, T> | undefined =>
      this.events.find(
        (event): event is EventOf<Event, T> => event.type === type && accept(event as EventOf<Event, T>),
      );
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
        const failure = this.events.find((event) => event.type === 'failed') as Failure | undefined;
        if (value !== undefined) finish(() => resolve(value));
        else if (failure)
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
