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
    // No teardown: a subscriber that unsubscribes early is closed, and skipped when this
    // settles, which is soon. A teardown would cost a closure for every awaited emit.
    (emit.observers ??= []).push(subscriber);
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
    if (observers) for (const observer of observers) if (!observer.closed) notify(observer, result);
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

/** Hands frames to ZeroMQ; zeromq.js settles the promise before returning it when it can send at once. */
export type SendFrames = (frames: ZmqFrame[]) => Promise<void>;
/** Whether a failed send should be tried again shortly (a full subscriber under `backpressure: 'block'`). */
export type ShouldRetry = (error: unknown) => boolean;

const RETRY_MAX_DELAY_MS = 10;

/**
 * Orders emits and hands them to the socket one at a time: zeromq.js allows only one pending
 * `send()` per socket ("Socket is busy writing"), and a send that must be retried has to go
 * before the ones behind it. An emit made while nothing is queued is sent at once, inside
 * `emit()` (unless it is the one that yields to the event loop, every `SENDS_PER_TURN`); the
 * rest follow from the previous send's settlement, with no async function or timer per message.
 */
export class SendQueue {
  private items: (PendingEmit | undefined)[] = [];
  private head = 0;
  /** The emit whose send has not settled yet (or is waiting to be retried). */
  private inFlight: PendingEmit | undefined;
  private cancelRetry: (() => void) | undefined;
  private attempts = 0;
  /** Emits handed to ZeroMQ so far. */
  sent = 0;
  private send: SendFrames | undefined;
  private shouldRetry: ShouldRetry = () => false;
  private sendsThisTurn = 0;
  private yielding = false;
  private drained: (() => void)[] = [];
  private readonly onSent = (): void => this.settle(undefined);
  private readonly onFailed = (error: unknown): void =>
    this.settle(error instanceof Error ? error : new Error(`The send failed: ${String(error)}`));
  private readonly resume = (): void => {
    this.yielding = false;
    this.next();
  };

  /** Emits not yet handed to ZeroMQ, the one being sent included. */
  get size(): number {
    return this.items.length - this.head + (this.inFlight ? 1 : 0);
  }

  push(emit: PendingEmit): void {
    this.items.push(emit);
    this.next();
  }

  /** Starts writing to a socket; everything queued before this goes first, in order. */
  start(send: SendFrames, shouldRetry?: ShouldRetry): void {
    this.send = send;
    if (shouldRetry) this.shouldRetry = shouldRetry;
    this.next();
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

  /**
   * Stops writing and fails every emit still queued, and the one waiting to be retried; returns
   * how many there were. A send already handed to zeromq.js settles on its own.
   */
  stop(error: Error): number {
    this.send = undefined;
    const pending = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    if (this.cancelRetry && this.inFlight) {
      this.cancelRetry();
      this.cancelRetry = undefined;
      pending.unshift(this.inFlight);
      this.inFlight = undefined;
    }
    for (const emit of pending) emit?.fail(error);
    return pending.length;
  }

  /**
   * Sends the next queued emit, unless one is in flight, the queue is empty or stopped, or this
   * turn is used up. Observers run synchronously when an emit settles, and one that emits again
   * re-enters here: hence the in-flight check.
   */
  private next(): void {
    if (this.inFlight || this.yielding) return;
    if (!this.send || this.head >= this.items.length) return this.notifyDrained();
    // With sendTimeout 0 every send settles at once: without a pause now and then, a burst or
    // a loop of awaited emits would run in microtasks for ever and starve timers and I/O.
    if (++this.sendsThisTurn > SENDS_PER_TURN) {
      this.sendsThisTurn = 0;
      this.yielding = true;
      setImmediate(this.resume);
      return;
    }
    const emit = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.inFlight = emit;
    this.attempts = 0;
    this.attempt();
  }

  private attempt(): void {
    this.cancelRetry = undefined;
    const send = this.send;
    if (!send) return this.settle(new Error('The send queue was stopped.'));
    let sending: Promise<void>;
    try {
      sending = send(this.inFlight!.frames);
    } catch (error) {
      return this.onFailed(error);
    }
    sending.then(this.onSent, this.onFailed);
  }

  /** Ends the in-flight send: `error` undefined when it was handed to ZeroMQ. */
  private settle(error: Error | undefined): void {
    const emit = this.inFlight;
    if (!emit) return;
    if (error && this.send && this.shouldRetry(error)) {
      this.cancelRetry = this.retryLater();
      return;
    }
    this.inFlight = undefined;
    if (error) {
      emit.fail(error);
    } else {
      this.sent++;
      emit.sent();
    }
    this.next();
  }

  /** First retry on the next turn of the event loop, then after 1, 2, ... up to 10 ms. */
  private retryLater(): () => void {
    const delay = Math.min(this.attempts++, RETRY_MAX_DELAY_MS);
    if (delay === 0) {
      const immediate = setImmediate(() => this.attempt());
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.attempt(), delay);
    return () => clearTimeout(timer);
  }

  private notifyDrained(): void {
    if (this.drained.length === 0 || this.size > 0) return;
    const waiters = this.drained;
    this.drained = [];
    for (const resolve of waiters) resolve();
  }
}
