import type { LoggerService } from '@nestjs/common';
import { Waiters } from './waiters.js';
import { type SocketOptions, Subscriber, XPublisher } from 'zeromq';

/**
 * A plain ZeroMQ publisher, as a CubicWeb or pyzmq peer would be. XPUB so that the test can wait
 * for the bus's subscription instead of guessing how long the slow joiner takes.
 */
export async function rawPublisher(address: string, options: SocketOptions<XPublisher> = {}) {
  // Options before bind: libzmq copies them into the listener, so later changes miss its peers.
  const socket = new XPublisher({ linger: 0, ...options });
  await socket.bind(address);
  const subscriptions: string[] = [];
  const waiting = new Waiters();
  void (async () => {
    try {
      for await (const [message] of socket) {
        if (message?.[0] === 1) subscriptions.push(message.toString('utf8', 1));
        waiting.notify();
      }
    } catch {
      // closed
    }
  })();
  return {
    socket,
    subscriptions,
    /** Resolves once a subscription that `topic` matches has arrived. */
    subscribed(topic: string, timeoutMs = 10_000): Promise<true> {
      return waiting.until(
        () => subscriptions.some((prefix) => topic.startsWith(prefix)) || undefined,
        timeoutMs,
        () => new Error(`no subscription for "${topic}" within ${timeoutMs} ms`),
      );
    },
    send: (frames: (string | Buffer)[]) => socket.send(frames),
    close: () => socket.close(),
  };
}

/** A plain ZeroMQ subscriber reading whole messages as Buffers. */
export function rawSubscriber(address: string, prefixes: string[] = ['']) {
  const socket = new Subscriber({ linger: 0 });
  socket.connect(address);
  for (const prefix of prefixes) socket.subscribe(prefix);
  return {
    socket,
    async receive(count: number, timeoutMs = 10_000): Promise<Buffer[][]> {
      const messages: Buffer[][] = [];
      socket.receiveTimeout = timeoutMs;
      while (messages.length < count) messages.push(await socket.receive());
      return messages;
    },
    close: () => socket.close(),
  };
}

/** A Nest logger that keeps every line, so tests can assert on what was logged. */
export class RecordingLogger implements LoggerService {
  readonly lines: { level: string; message: string; context?: string }[] = [];
  private record(level: string) {
    return (message: unknown, ...rest: unknown[]) => {
      const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
      this.lines.push({ level, message: String(message), context });
    };
  }
  log = this.record('log');
  error = this.record('error');
  warn = this.record('warn');
  debug = this.record('debug');
  verbose = this.record('verbose');
  fatal = this.record('fatal');

  find(level: string, pattern: RegExp) {
    return this.lines.filter((line) => line.level === level && pattern.test(line.message));
  }
}
