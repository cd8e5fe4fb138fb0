import { Observable, type Subscriber, type TeardownLogic } from 'rxjs';
import type { ZmqFrame } from './zmq.options.js';

type Settled = { ok: true } | { ok: false; error: Error };

/** Sends in a row before letting timers and I/O run, as zeromq.js itself does (512). */
const SENDS_PER_TURN = 512;

/**
 * One emit: its frames, and the observable `emit` returns. The observable is hot in effect
 * (the message is queued whether or not anyone subscribes), emits `undefined` once the frames
 * are handed to ZeroMQ and completes, or errors if they cannot be.
 */
export class PendingEmit extends Observable<undefined> {
  private settled: Settled | undefined;
  private observers: Subscriber<undefined>[] | undefined;
  private observed = false;

  constructor(
    readonly topic: string,
    readonly frames: ZmqFrame[],
    private readonly onFailure: (emit: PendingEmit, error: Error, observed: boolean) => void,
  ) {
    // One shared function rather than a closure per emit: a burst keeps every emit queued at once.
    super(PendingEmit.subscribe);
  }

  /** rxjs calls it with `this` set to the observable being subscribed to: a PendingEmit. */
  private static subscribe(this: Observable<undefined>, subscriber: Subscriber<undefined>): TeardownLogic {
    const emit = this as PendingEmit;
    emit.observed = true;
    if (emit.settled) return notify(subscriber, emit.settled);
    (emit.observers ??= []).push(subscriber);
    return () => {
      emit.observers = emit.observers?.filter((observer) => observer !== subscriber);
    };
  }

  sent(): void {
    this.settle({ ok: true });
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settle({ ok: false, error });
    // Subscribing usually happens right after emit() returns: give it that chance before
    // deciding that nobody will hear of the failure.
    queueMicrotask(() => this.onFailure(this, error, this.observed));
  }

  private settle(result: Settled): void {
    this.settled = result;
    const observers = this.observers;
    this.observers = undefined;
    if (observers) for (const observer of observers) notify(observer, result);
  }
}

function notify(subscriber: Subscriber<undefined>, result: Settled): void {
  if (result.ok) {
    subscriber.next(undefined);
    subscriber.complete();
  } else {
    subscriber.error(result.error);
  }
}

/**
 * Orders emits and hands them to the socket one at a time: zeromq.js allows only one pending
 * `send()` per socket ("Socket is busy writing"), so emits fired without awaiting wait here.
 */
export class SendQueue {
  private items: (PendingEmit | undefined)[] = [];
  private head = 0;
  /** Emits handed to ZeroMQ so far. */
  sent = 0;
  private send: ((frames: ZmqFrame[]) => Promise<void>) | undefined;
  private running = false;
  private sendsThisTurn = 0;
  private drained: (() => void)[] = [];

  get size(): number {
    return this.items.length - this.head;
  }

  push(emit: PendingEmit): void {
    this.items.push(emit);
    if (!this.running && this.send) void this.run();
  }

  /** Starts writing to a socket; everything queued before this goes first, in order. */
  start(send: (frames: ZmqFrame[]) => Promise<void>): void {
    this.send = send;
    if (!this.running && this.size > 0) void this.run();
  }

  /** Resolves `true` once everything queued is handed to ZeroMQ, `false` if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.drained.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stops writing and fails every emit still queued; returns how many there were. */
  stop(error: Error): number {
    this.send = undefined;
    const pending = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    for (const emit of pending) emit?.fail(error);
    return pending.length;
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.send && this.head < this.items.length) {
      const emit = this.items[this.head]!;
      this.items[this.head++] = undefined;
      if (this.head >= 4096 && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      try {
        await this.send(emit.frames);
        this.sent++;
        emit.sent();
      } catch (err) {
        emit.fail(err instanceof Error ? err : new Error(String(err)));
      }
      // With sendTimeout 0 every send resolves at once: without this a burst, or a loop of
      // awaited emits, would starve the event loop.
      if (++this.sendsThisTurn === SENDS_PER_TURN) {
        this.sendsThisTurn = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    this.running = false;
    if (this.size === 0) {
      const waiters = this.drained;
      this.drained = [];
      for (const resolve of waiters) resolve();
    }
  }
}
