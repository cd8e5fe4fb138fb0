import { EventEmitter } from 'node:events';
import { isUtf8 } from 'node:buffer';
import { Logger } from '@nestjs/common';
import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import { Subscriber } from 'zeromq';
import { createDeserializer } from './zmq.codec.js';
import { describeSetting, resolveZmqOptions, ZmqConfigError } from './zmq.config.js';
import { REJECTION_LOG_INTERVAL_MS, ZMQ_TRANSPORT } from './zmq.constants.js';
import { ZmqContext } from './zmq.context.js';
import { secureSubscriber, setCurveServerKey } from './zmq.curve.js';
import { ZmqRejectReason, type ZmqServerEvents, type ZmqServerStats, ZmqStatus } from './zmq.events.js';
import { ThrottledLog } from './zmq.log-throttle.js';
import type { ZmqDeserializer, ZmqOptions } from './zmq.options.js';
import { TopicRouter } from './zmq.router.js';
import { asError, followPeers } from './zmq.socket.js';

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
  };

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
    secureSubscriber(socket, options.curve);
    this._status$.next(ZmqStatus.DISCONNECTED);
    followPeers(socket, 'connect', this._status$, (event, address) => this.emit(event, address));
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

  private async receive(socket: Subscriber): Promise<void> {
    try {
      for await (const frames of socket) this.handleMessage(frames);
    } catch (error) {
      if (this.closing || socket.closed) return;
      this.logger.error(`The receive loop stopped: ${asError(error).message}`);
      this.emit('error', asError(error));
    }
  }

  private handleMessage(frames: Buffer[]): void {
    this.stats.received++;
    const topicFrame = frames[0];
    if (topicFrame === undefined || topicFrame.length === 0) {
      return this.reject(ZmqRejectReason.EMPTY_TOPIC, frames, undefined, 'frame 0 (the topic) is empty');
    }
    if (!isUtf8(topicFrame)) {
      return this.reject(ZmqRejectReason.INVALID_TOPIC, frames, undefined, 'the topic is not valid UTF-8');
    }
    const topic = topicFrame.toString('utf8');
    const handlers = this.router!.match(topic);
    if (handlers.length === 0) {
      return this.reject(ZmqRejectReason.NO_HANDLER, frames, topic, 'no handler matches this topic');
    }
    let data: unknown;
    try {
      data = this.decoder!.deserialize(frames.slice(1), { topic });
    } catch (error) {
      return this.reject(ZmqRejectReason.DECODE_FAILED, frames, topic, asError(error).message);
    }
    this.stats.dispatched++;
    const context = new ZmqContext([topic, frames]);
    for (const handler of handlers) this.invoke(handler, topic, data, context);
  }

  private invoke(handler: MessageHandler, topic: string, data: unknown, context: ZmqContext): void {
    try {
      this.runWithProcessingHooks(context, async (runEndHook) => {
        try {
          const result: unknown = await handler(data, context);
          if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
        } catch (error) {
          this.onHandlerError(topic, error);
        } finally {
          runEndHook();
        }
      });
    } catch (error) {
      this.onHandlerError(topic, error);
    }
  }

  private onHandlerError(topic: string, error: unknown): void {
    this.stats.handlerErrors++;
    const reason = error instanceof Error ? (error.stack ?? error.message) : JSON.stringify(error);
    this.rejections.log(`handler:${topic}`, `Handler for "${topic}" failed: ${reason}`);
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
