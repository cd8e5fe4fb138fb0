import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import { Subscriber } from 'zeromq';
import { createDeserializer, decodeUtf8 } from './zmq.codec.js';
import { describeSetting, resolveZmqOptions, ZmqConfigError } from './zmq.config.js';
import { REJECTION_LOG_INTERVAL_MS, ZMQ_TRANSPORT } from './zmq.constants.js';
import { ZmqContext } from './zmq.context.js';
import { secureSubscriber, setCurveServerKey } from './zmq.curve.js';
import { ZmqRejectReason, type ZmqServerEvents, type ZmqServerStats, ZmqStatus } from './zmq.events.js';
import { ThrottledLog } from './zmq.log-throttle.js';
import type { ZmqDeserializer, ZmqOptions } from './zmq.options.js';
import { TopicRouter } from './zmq.router.js';
import { GapDetector, readSequence, type ZmqSequence } from './zmq.sequence.js';
import { asError, followPeers, isEagain } from './zmq.socket.js';

/** How long after a disconnect ZeroMQ has to announce its own reconnect before the server steps in. */
const PROTOCOL_ERROR_GRACE_MS = 1000;
/** Messages handled in a row before timers and I/O get a turn. */
const RECEIVES_PER_TURN = 512;
/** libzmq's ZMQ_SNDHWM option and its default, which also caps the subscriptions a SUB sends a new connection. */
const ZMQ_SNDHWM = 23;
const DEFAULT_SEND_HIGH_WATER_MARK = 1000;
/** From how many queued messages on, reading until EAGAIN beats checking `readable` before each read. */
const DEEP_QUEUE = 8;

/** Thrown by `listen()` when a handler needs request-response, which this bus does not offer. */
export const REQUEST_RESPONSE_UNSUPPORTED =
  'The ZeroMQ bus is publish/subscribe only: use @EventPattern handlers and client.emit(); ' +
  '@MessagePattern and client.send() (request-response) are not supported.';

/**
 * The subscribing side of the bus, as a Nest transport strategy: each `@EventPattern` becomes a
 * ZeroMQ subscription on one SUB socket connected to every address of `ZMQ_ADDRESS_SUB`.
 */
export class ZmqServer extends Server<ZmqServerEvents, ZmqStatus> implements CustomTransportStrategy {
  override readonly transportId = ZMQ_TRANSPORT;
  // Handler failures reach handleMessage, which logs them with their topic.
  override readonly propagatesEventHandlerErrors = true;
  protected override readonly logger = new Logger(ZmqServer.name);

  private socket: Subscriber | undefined;
  private router: TopicRouter<MessageHandler> | undefined;
  private decoder: ZmqDeserializer | undefined;
  private closing: Promise<void> | undefined;
  private readonly emitter = new EventEmitter();
  private readonly rejections = new ThrottledLog(REJECTION_LOG_INTERVAL_MS, (line) => this.logger.warn(line));
  private readonly handlerFailures = new ThrottledLog(REJECTION_LOG_INTERVAL_MS, (line) =>
    this.logger.error(line),
  );
  // Prefix subscriptions let through topics that only share a prefix: expected, so only debug.
  private readonly unrouted = new ThrottledLog(REJECTION_LOG_INTERVAL_MS, (line) => this.logger.debug(line));
  private readonly stats: ZmqServerStats = {
    received: 0,
    dispatched: 0,
    rejected: {
      [ZmqRejectReason.EMPTY_TOPIC]: 0,
      [ZmqRejectReason.INVALID_TOPIC]: 0,
      [ZmqRejectReason.DECODE_FAILED]: 0,
      [ZmqRejectReason.NO_HANDLER]: 0,
    },
    handlerErrors: 0,
    gaps: 0,
    missed: 0,
  };
  private readonly gaps = new GapDetector();
  /** Nest's default start hook, which only runs the handler: kept to tell when someone set another. */
  private readonly defaultStartHook = this.onProcessingStartHook;

  constructor(private readonly options: ZmqOptions = {}) {
    super();
  }

  listen(callback: (error?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  /** A snapshot of what this server has received, dispatched and rejected. */
  getStats(): ZmqServerStats {
    return { ...this.stats, rejected: { ...this.stats.rejected } };
  }

  on<K extends keyof ZmqServerEvents>(event: K, callback: ZmqServerEvents[K]): void {
    this.emitter.on(event, callback as (...args: unknown[]) => void);
  }

  /** The ZeroMQ SUB socket. */
  unwrap<T = Subscriber>(): T {
    if (!this.socket) {
      throw new Error('ZmqServer is not listening: call app.listen() / app.startAllMicroservices() first.');
    }
    return this.socket as T;
  }

  async close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async start(): Promise<void> {
    if (this.socket) return;
    if (this.closing) throw new Error('ZmqServer was closed; create a new one to listen again.');
    const options = resolveZmqOptions(this.options);
    const handlers = [...this.getHandlers()];
    const requestHandler = handlers.find(([, handler]) => !handler.isEventHandler);
    if (requestHandler) {
      throw new Error(`${REQUEST_RESPONSE_UNSUPPORTED} Found @MessagePattern('${requestHandler[0]}').`);
    }
    this.router = new TopicRouter(handlers);
    this.decoder = createDeserializer(options);

    if (options.subAddresses.length === 0) {
      this.logger.log(
        `${describeSetting('subAddresses')} is not set: this instance subscribes to no publisher.`,
      );
      this._status$.next(ZmqStatus.DISCONNECTED);
      return;
    }
    const socket = new Subscriber({
      receiveHighWaterMark: options.receiveHighWaterMark,
      maxMessageSize: options.maxMessageSize,
      reconnectInterval: options.reconnectInterval,
      linger: 0,
      ipv6: options.ipv6,
    });
    this.allowSubscriptions(socket, this.router.subscriptions.length);
    secureSubscriber(socket, options.curve);
    this._status$.next(ZmqStatus.DISCONNECTED);
    followPeers(socket, 'connect', this._status$, (event, address) => this.emit(event, address));
    this.reconnectAfterProtocolErrors(socket);
    for (const [index, address] of options.subAddresses.entries()) {
      try {
        setCurveServerKey(socket, options.curve, index);
        socket.connect(address);
      } catch (error) {
        socket.close();
        throw new ZmqConfigError(
          `Cannot connect ${describeSetting('subAddresses')} to "${address}": ${asError(error).message}`,
        );
      }
    }
    for (const prefix of this.router.subscriptions) socket.subscribe(prefix);
    this.socket = socket;
    void this.receive(socket);

    const patterns = handlers.map(([pattern]) => pattern);
    this.logger.log(
      `Subscribed to ${options.subAddresses.join(', ')} for ` +
        (patterns.length
          ? patterns.map((pattern) => `"${pattern}"`).join(', ')
          : 'no pattern (no @EventPattern handler)'),
    );
  }

  /**
   * A SUB socket hands a new connection no more subscriptions than its send high-water mark
   * (1000 by default) and drops the rest, so a server with more prefixes than that would miss
   * topics. zeromq.js's Subscriber has no `sendHighWaterMark`; its generic setter does.
   */
  private allowSubscriptions(socket: Subscriber, count: number): void {
    if (count <= DEFAULT_SEND_HIGH_WATER_MARK) return;
    (socket as unknown as { setInt32Option(option: number, value: number): void }).setInt32Option(
      ZMQ_SNDHWM,
      count,
    );
  }

  /**
   * libzmq does not reconnect after a protocol error, such as a message over ZMQ_MAXMSGSIZE, so
   * that publisher would be lost for good. Such a disconnect is the one that no reconnect attempt
   * (`connect:retry`, emitted as soon as ZeroMQ schedules one) follows: connect again by hand.
   */
  private reconnectAfterProtocolErrors(socket: Subscriber): void {
    const pending = new Map<string, NodeJS.Timeout>();
    const settle = ({ address }: { address: string }): void => {
      clearTimeout(pending.get(address));
      pending.delete(address);
    };
    socket.events.on('connect:retry', settle);
    socket.events.on('connect', settle);
    socket.events.on('disconnect', (event) => {
      settle(event);
      const timer = setTimeout(() => {
        pending.delete(event.address);
        if (socket.closed) return;
        this.rejections.log(
          `reconnect:${event.address}`,
          `ZeroMQ dropped the connection to "${event.address}" after a protocol error (such as a message ` +
            `over ${describeSetting('maxMessageSize')}, or a refused CURVE handshake) and will not retry: ` +
            'connecting again.',
        );
        try {
          socket.disconnect(event.address);
          socket.connect(event.address);
        } catch (error) {
          this.logger.error(`Reconnecting to "${event.address}" failed: ${asError(error).message}`);
        }
      }, PROTOCOL_ERROR_GRACE_MS);
      pending.set(event.address, timer.unref());
    });
  }

  /**
   * Reads messages as fast as they come. A receive waits only when nothing is queued. After
   * that, messages are read with `receiveTimeout` 0, which skips zeromq.js's own `ZMQ_EVENTS`
   * check (two system calls) before each receive. While the queue stays short, `readable` still
   * checks before each read; once a round found it deep, reading goes on until EAGAIN, since
   * that one failed read costs as much as several checks. Every `RECEIVES_PER_TURN` messages,
   * timers and I/O get their turn.
   */
  private async receive(socket: Subscriber): Promise<void> {
    let queued = 0;
    try {
      while (!socket.closed) {
        socket.receiveTimeout = -1;
        this.deliver(await socket.receive());
        socket.receiveTimeout = 0;
        const deep = queued >= DEEP_QUEUE;
        queued = 0;
        while (queued < RECEIVES_PER_TURN) {
          if (!deep && !socket.readable) break;
          let frames: Buffer[];
          try {
            frames = await socket.receive();
          } catch (error) {
            if (isEagain(error)) break;
            throw error;
          }
          queued++;
          this.deliver(frames);
        }
        if (queued === RECEIVES_PER_TURN) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      if (this.closing || socket.closed) return;
      this.logger.error(`The receive loop stopped: ${asError(error).message}`);
      this.emit('error', asError(error));
    }
  }

  private deliver(frames: Buffer[]): void {
    try {
      this.handleMessage(frames);
    } catch (error) {
      // An application's 'rejected' or 'gap' listener that throws must not end delivery.
      this.logger.error(`A message could not be handled: ${asError(error).stack ?? String(error)}`);
    }
  }

  private handleMessage(frames: Buffer[]): void {
    this.stats.received++;
    const topicFrame = frames[0];
    if (topicFrame === undefined || topicFrame.length === 0) {
      return this.reject(ZmqRejectReason.EMPTY_TOPIC, frames, undefined, 'frame 0 (the topic) is empty');
    }
    const topic = decodeUtf8(topicFrame);
    if (topic === undefined) {
      return this.reject(ZmqRejectReason.INVALID_TOPIC, frames, undefined, 'the topic is not valid UTF-8');
    }
    const sequence = frames.length > 1 ? readSequence(frames[frames.length - 1]!) : undefined;
    if (sequence) this.checkSequence(topic, sequence);
    const handlers = this.router!.match(topic);
    if (handlers.length === 0) {
      return this.reject(ZmqRejectReason.NO_HANDLER, frames, topic, 'no handler matches this topic');
    }
    let data: unknown;
    try {
      data = this.decoder!.deserialize(frames.slice(1, sequence ? -1 : undefined), { topic });
    } catch (error) {
      return this.reject(ZmqRejectReason.DECODE_FAILED, frames, topic, asError(error).message);
    }
    this.stats.dispatched++;
    const context = new ZmqContext([topic, frames, sequence]);
    for (const handler of handlers) this.invoke(handler, topic, data, context);
  }

  private checkSequence(topic: string, sequence: ZmqSequence): void {
    const gap = this.gaps.check(topic, sequence);
    if (!gap) return;
    this.stats.gaps++;
    this.stats.missed += gap.missed;
    this.rejections.log(
      `gap:${gap.publisher}`,
      `Missed ${gap.missed} message(s) on "${topic.slice(0, 200)}" from publisher ${gap.publisher}: ` +
        `expected #${gap.expected}, received #${gap.received}`,
    );
    this.emit('gap', gap);
  }

  private invoke(handler: MessageHandler, topic: string, data: unknown, context: ZmqContext): void {
    // Without processing hooks (set by tracing instrumentation, for one), Nest's wrapper around
    // each call would only add two async functions and a closure per message.
    if (this.onProcessingStartHook === this.defaultStartHook && !this.onProcessingEndHook) {
      void this.call(handler, topic, data, context);
      return;
    }
    const hookFailed = (error: unknown): void => this.onHandlerError(topic, error, 'A processing hook');
    try {
      // Typed void, but it returns what the start hook returns: a hook that rejects, or an end
      // hook that throws after an await, must not become an unhandled rejection.
      const running: unknown = this.runWithProcessingHooks(context, async (runEndHook) => {
        try {
          await this.call(handler, topic, data, context);
        } finally {
          runEndHook();
        }
      });
      if (running instanceof Promise) running.catch(hookFailed);
    } catch (error) {
      hookFailed(error);
    }
  }

  /** Runs one handler to its end, an Observable it returns included; never rejects. */
  private async call(
    handler: MessageHandler,
    topic: string,
    data: unknown,
    context: ZmqContext,
  ): Promise<void> {
    try {
      const result: unknown = await handler(data, context);
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
    } catch (error) {
      this.onHandlerError(topic, error);
    }
  }

  private onHandlerError(topic: string, error: unknown, what = 'Handler'): void {
    this.stats.handlerErrors++;
    // Nest's exception filter turns an unknown error into { status, message } after logging it.
    const reason =
      error instanceof Error
        ? (error.stack ?? error.message)
        : typeof (error as { message?: unknown })?.message === 'string'
          ? (error as { message: string }).message
          : String(error);
    this.handlerFailures.log(topic, `${what} for "${topic}" failed: ${reason}`);
    this.emit('handler-error', topic, error);
  }

  private reject(reason: ZmqRejectReason, frames: Buffer[], topic: string | undefined, why: string): void {
    this.stats.rejected[reason]++;
    const about = topic === undefined ? `${frames.length} frame(s)` : `"${topic.slice(0, 200)}"`;
    const line = `Rejected a message (${reason}, ${about}): ${why}`;
    (reason === ZmqRejectReason.NO_HANDLER ? this.unrouted : this.rejections).log(reason, line);
    this.emit('rejected', reason, frames, topic);
  }

  private emit<K extends keyof ZmqServerEvents>(event: K, ...args: Parameters<ZmqServerEvents[K]>): void {
    if (event === 'error' && this.emitter.listenerCount('error') === 0) return;
    this.emitter.emit(event, ...args);
  }

  private async shutdown(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.closed) socket.close();
    this._status$.next(ZmqStatus.DISCONNECTED);
    this.emitter.removeAllListeners();
  }
}
