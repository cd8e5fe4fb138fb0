import type { XPublisher } from 'zeromq';
import { isEagain } from './zmq.socket.js';

/**
 * While the publisher is sending, how often subscriptions are read; while it is idle, how long
 * one read waits before it checks whether sending has started.
 */
export const SUBSCRIPTION_POLL_MS = 100;
/** Subscription messages read in one go while sending, at most: the reader never holds the event loop long. */
const READS_PER_POLL = 1024;

/**
 * What the subscribers of one XPUB socket have subscribed to, read from the subscription
 * messages that ZeroMQ hands the XPUB (`\x01prefix`, `\x00prefix` when verbose).
 *
 * A receive left pending on a zeromq.js socket costs every `send()` a `ZMQ_EVENTS` check
 * (a `poll()` and a `getpid()` system call) to see whether that receive can complete now. So
 * a receive waits only while the publisher is idle, and at most `SUBSCRIPTION_POLL_MS`; once
 * the publisher sends, subscriptions are read without waiting, every `SUBSCRIPTION_POLL_MS`,
 * until a poll finds that nothing was sent since the last one.
 */
export class SubscriptionTracker {
  private readonly counts = new Map<string, number>();
  private readonly watchers = new Set<() => void>();
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private stopped = false;

  constructor(private readonly onChange: (subscribed: boolean, prefix: string) => void) {}

  /** How many subscriptions cover `topic`: each subscriber's matching prefixes count once each. */
  count(topic: string): number {
    let count = 0;
    for (const [prefix, subscribers] of this.counts) {
      if (topic.startsWith(prefix)) count += subscribers;
    }
    return count;
  }

  /** Calls `check` after every change, and once more on `stop()`, until the returned function is called. */
  watch(check: () => void): () => void {
    this.watchers.add(check);
    return () => this.watchers.delete(check);
  }

  /**
   * Reads subscriptions off `socket` until it closes or `stop()` is called. `sends` tells how
   * many messages have been sent so far: a change between two reads means the publisher is busy.
   */
  async follow(socket: XPublisher, sends: () => number): Promise<void> {
    socket.receiveTimeout = SUBSCRIPTION_POLL_MS;
    let sending = false;
    let backlog = false;
    while (!this.stopped && !socket.closed) {
      const before = sends();
      if (sending) {
        // A full batch means more are waiting (a peer with many subscriptions): read on at once.
        await (backlog ? new Promise((resolve) => setImmediate(resolve)) : this.sleep(SUBSCRIPTION_POLL_MS));
        if (this.stopped || socket.closed) return;
        backlog = await this.readAvailable(socket);
      } else {
        await this.readOne(socket);
      }
      sending = sends() !== before;
    }
  }

  /** Ends `follow()` at once and tells every watcher. */
  stop(): void {
    this.stopped = true;
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
    for (const check of this.watchers) check();
  }

  private async readOne(socket: XPublisher): Promise<void> {
    try {
      const [message] = await socket.receive();
      this.apply(message);
    } catch (error) {
      if (!isEagain(error)) throw error;
    }
  }

  /** Reads what is queued, at most `READS_PER_POLL`; true when it stopped at that limit. */
  private async readAvailable(socket: XPublisher): Promise<boolean> {
    socket.receiveTimeout = 0;
    try {
      for (let read = 0; read < READS_PER_POLL; read++) {
        const [message] = await socket.receive();
        this.apply(message);
      }
      return true;
    } catch (error) {
      if (!isEagain(error)) throw error;
      return false;
    } finally {
      if (!socket.closed) socket.receiveTimeout = SUBSCRIPTION_POLL_MS;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleeping = undefined;
        resolve();
      };
      this.sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }

  private apply(message: Buffer | undefined): void {
    if (!message || message.length === 0 || message[0]! > 1) return;
    const prefix = message.toString('utf8', 1);
    const subscribed = message[0] === 1;
    const count = (this.counts.get(prefix) ?? 0) + (subscribed ? 1 : -1);
    if (count > 0) this.counts.set(prefix, count);
    else this.counts.delete(prefix);
    this.onChange(subscribed, prefix);
    for (const check of this.watchers) check();
  }
}
