import { EventEmitter } from 'node:events';
import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { lastValueFrom, type Observable, type ReplaySubject, throwError } from 'rxjs';
import { XPublisher } from 'zeromq';
import { createSerializer, ZmqPayloadError } from './zmq.codec.js';
import { describeSetting, resolveZmqOptions, type ResolvedZmqOptions, ZmqConfigError } from './zmq.config.js';
import { REJECTION_LOG_INTERVAL_MS } from './zmq.constants.js';
import { secureXPublisher } from './zmq.curve.js';
import { type ZmqClientEvents, type ZmqClientStats, ZmqStatus } from './zmq.events.js';
import { ThrottledLog } from './zmq.log-throttle.js';
import type { ZmqFrame, ZmqOptions, ZmqSerializer } from './zmq.options.js';
import { PendingEmit, SendQueue } from './zmq.send-queue.js';
import { SequenceStamper } from './zmq.sequence.js';
import { SubscriptionTracker } from './zmq.subscriptions.js';
import type { ZapLease } from './zmq.zap.js';
import { REQUEST_RESPONSE_UNSUPPORTED } from './zmq.server.js';
import { asError, followPeers, isEagain } from './zmq.socket.js';

function isFrameList(value: unknown): value is ZmqFrame[] {
  return (
    Array.isArray(value) && value.every((frame) => typeof frame === 'string' || frame instanceof Uint8Array)
  );
}

/** Options of `ZmqClient.waitForSubscribers()`. */
export interface WaitForSubscribersOptions {
  /** How many matching subscriptions to wait for. Default 1. */
  count?: number;
  /** Give up after this many milliseconds. Default 5000. */
  timeout?: number;
}

/**
 * The publishing side of the bus, as a Nest client proxy: `emit(topic, parts)` publishes
 * `topic | part | part...` on one XPUB socket bound to `ZMQ_ADDRESS_PUB`.
 */
export class ZmqClient
  // Status typed `string` in the base so that `ClientsModule.register({ customClass: ZmqClient })`
  // type-checks; the `status` getter below narrows it again.
  extends ClientProxy<ZmqClientEvents, string>
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  protected readonly logger = new Logger(ZmqClient.name);

  private socket: XPublisher | undefined;
  private connection: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private settings: ResolvedZmqOptions | undefined;
  private encoder: ZmqSerializer | undefined;
  private stamper: SequenceStamper | undefined;
  private zap: ZapLease | undefined;
  /** Set when this instance cannot publish (no address, or closed): every emit fails with it. */
  private refusal: Error | undefined;
  private failed = 0;
  private readonly queue = new SendQueue();
  private readonly emitter = new EventEmitter();
  private readonly subscriptions = new SubscriptionTracker((subscribed, prefix) =>
    this.emitter.emit(subscribed ? 'subscribe' : 'unsubscribe', prefix),
  );
  private readonly failures = new ThrottledLog(REJECTION_LOG_INTERVAL_MS, (line) => this.logger.error(line));
  private readonly onEmitFailed = (emit: PendingEmit, error: Error, observed: boolean): void => {
    this.failed++;
    if (observed) return;
    this.failures.log(
      error.name,
      `Emit of "${emit.topic}" failed and nobody subscribed to hear it: ${error.message}`,
    );
    if (this.emitter.listenerCount('error') > 0) this.emitter.emit('error', error);
  };

  constructor(private readonly options: ZmqOptions = {}) {
    super();
  }

  /** Binds the publisher; `ZmqModule` and `ClientsModule` call this at application bootstrap. */
  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('ZmqClient is closed.'));
    this.connection ??= this.open().catch((error: unknown) => {
      this.connection = undefined;
      this.queue.stop(asError(error));
      throw error;
    });
    return this.connection;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** Status changes: `connected` while at least one subscriber is connected. */
  override get status(): Observable<ZmqStatus> {
    return super.status as Observable<ZmqStatus>;
  }

  /** The endpoint the publisher is bound to, with the real port when bound to `tcp://host:*`. */
  get endpoint(): string | undefined {
    return this.socket?.lastEndpoint ?? undefined;
  }

  /** This publisher's id in `sequence` mode (as in `ZmqGap.publisher`), once connected; undefined otherwise. */
  get publisherId(): string | undefined {
    return this.stamper?.id.toString('hex');
  }

  /** What this client has sent and failed to send. */
  getStats(): ZmqClientStats {
    return { sent: this.queue.sent, failed: this.failed };
  }

  override emit<TResult = undefined, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    return this.enqueue(this.createPacket(pattern, data)) as unknown as Observable<TResult>;
  }

  override send<TResult = unknown, TInput = unknown>(_pattern: unknown, _data: TInput): Observable<TResult> {
    return throwError(() => new Error(REQUEST_RESPONSE_UNSUPPORTED));
  }

  /**
   * Resolves once subscriptions matching `topic` are seen on this publisher, at least `count`
   * of them (each subscriber's matching prefixes count once each). Use it where a message must
   * not be lost to ZeroMQ's slow joiner: right after start, before the first important emit.
   */
  waitForSubscribers(
    topic: string,
    { count = 1, timeout = 5000 }: WaitForSubscribersOptions = {},
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.closing) {
          done();
          reject(new Error('ZmqClient closed while waiting for subscribers.'));
        } else if (this.subscriptions.count(topic) >= count) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `Timed out after ${timeout} ms waiting for ${count} subscriber(s) of "${topic}" ` +
              `(saw ${this.subscriptions.count(topic)}).`,
          ),
        );
      }, timeout);
      const unwatch = this.subscriptions.watch(check);
      const done = (): void => {
        clearTimeout(timer);
        unwatch();
      };
      check();
    });
  }

  override on<K extends keyof ZmqClientEvents>(event: K, callback: ZmqClientEvents[K]): void {
    this.emitter.on(event, callback as (...args: unknown[]) => void);
  }

  /** The ZeroMQ XPUB socket. */
  unwrap<T = XPublisher>(): T {
    if (!this.socket) {
      throw new Error('ZmqClient is not connected: call connect() first (ZmqModule does it at bootstrap).');
    }
    return this.socket as T;
  }

  /** Flushes pending emits for at most `linger` ms in all, then closes the socket. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: new Error(REQUEST_RESPONSE_UNSUPPORTED), isDisposed: true });
    return () => undefined;
  }

  protected dispatchEvent<T = undefined>(packet: ReadPacket): Promise<T> {
    return lastValueFrom(this.enqueue(packet)) as Promise<T>;
  }

  private enqueue(packet: ReadPacket): PendingEmit {
    let topic = typeof packet.pattern === 'string' ? packet.pattern : String(packet.pattern);
    let frames: ZmqFrame[] = [];
    let problem = this.refusal;
    if (!problem) {
      try {
        topic = this.normalizePattern(packet.pattern);
        frames = this.encode(topic, packet);
      } catch (error) {
        problem = asError(error);
      }
    }
    const emit = new PendingEmit(topic, frames, this.onEmitFailed);
    if (problem) {
      emit.fail(problem);
      return emit;
    }
    this.queue.push(emit);
    if (!this.socket) this.connect().catch(() => undefined);
    return emit;
  }

  private encode(topic: string, packet: ReadPacket): ZmqFrame[] {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new ZmqPayloadError('emit() needs a non-empty topic string as its pattern.');
    }
    if (packet.data === undefined || packet.data === null) {
      throw new ZmqPayloadError(`emit("${topic}") needs data: pass [] to send the topic alone.`);
    }
    this.encoder ??= createSerializer(this.resolve());
    const payload = this.encoder.serialize(packet);
    // The built-in codecs check their own output; only a custom serializer's needs checking here.
    if (this.settings!.serializer && !isFrameList(payload)) {
      throw new ZmqPayloadError(
        `The serializer must return an array of strings or Buffers (emit "${topic}").`,
      );
    }
    // concat sizes the array exactly; a spread leaves ~140 bytes of slack in every queued emit.
    const frames = ([topic] as ZmqFrame[]).concat(payload);
    if (this.stamper) frames.push(this.stamper.stamp(topic));
    return frames;
  }

  private resolve(): ResolvedZmqOptions {
    if (!this.settings) {
      this.settings = resolveZmqOptions(this.options);
      this.stamper = this.settings.sequence ? new SequenceStamper() : undefined;
    }
    return this.settings;
  }

  private async open(): Promise<void> {
    const options = this.resolve();
    if (!options.pubAddress) {
      this.logger.log(`${describeSetting('pubAddress')} is not set: this instance publishes nothing.`);
      this.refusal = new ZmqConfigError(
        `This instance does not publish: set ${describeSetting('pubAddress')} to emit events.`,
      );
      this.queue.stop(this.refusal);
      return;
    }
    const socket = new XPublisher({
      // zeromq.js then skips its ZMQ_EVENTS check (a poll() syscall) before each send. An XPUB
      // is always writable, so nothing else changes; SendQueue yields to the event loop instead.
      sendTimeout: 0,
      sendHighWaterMark: options.sendHighWaterMark,
      noDrop: options.backpressure === 'block',
      linger: options.linger,
      ipv6: options.ipv6,
    });
    socket.verbosity = 'allSubsUnsubs';
    this._status$.next(ZmqStatus.DISCONNECTED);
    followPeers(socket, 'accept', this._status$ as ReplaySubject<ZmqStatus>, (event, address) =>
      this.emitter.emit(event, address),
    );
    try {
      this.zap = await secureXPublisher(socket, options.curve);
      await socket.bind(options.pubAddress);
    } catch (error) {
      socket.close();
      await this.zap?.release();
      throw new ZmqConfigError(
        `Cannot bind ${describeSetting('pubAddress')} to "${options.pubAddress}": ${asError(error).message}`,
      );
    }
    this.socket = socket;
    this.subscriptions
      .follow(socket, () => this.queue.sent)
      .catch((error: unknown) => {
        if (!socket.closed) this.logger.error(`Reading subscriptions stopped: ${asError(error).message}`);
      });
    // Under XPUB_NODROP libzmq answers EAGAIN while a subscriber's queue is full, and an XPUB
    // always reports itself writable, so zeromq.js rejects instead of waiting: retry shortly.
    this.queue.start(
      (frames) => socket.send(frames),
      options.backpressure === 'block' ? (error) => isEagain(error) && !socket.closed : undefined,
    );
    this.logger.log(`Publishing on ${socket.lastEndpoint} (backpressure: ${options.backpressure})`);
  }

  private async shutdown(): Promise<void> {
    const closed = new Error('ZmqClient was closed before this emit could be sent.');
    this.refusal = closed;
    const started = Date.now();
    await this.connection?.catch(() => undefined);
    const linger = this.settings?.linger ?? 0;
    const socket = this.socket;
    if (socket && !(await this.queue.drain(linger))) {
      this.logger.warn(`${this.queue.size} emit(s) were not sent within the ${linger} ms linger.`);
    }
    this.queue.stop(closed);
    if (socket) {
      socket.linger = Math.max(0, linger - (Date.now() - started));
      socket.close();
    }
    await this.zap?.release();
    this.socket = undefined;
    this._status$.next(ZmqStatus.DISCONNECTED);
    this.subscriptions.stop();
    this.emitter.removeAllListeners();
  }
}
