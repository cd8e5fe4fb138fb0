import type { ZmqGap } from './zmq.sequence.js';

/** Status of a `ZmqServer` or `ZmqClient`, pushed on `status` as the sockets' events arrive. */
export const ZmqStatus = {
  /** At least one peer is connected: a publisher (server side) or a subscriber (client side). */
  CONNECTED: 'connected',
  /** No peer is connected; ZeroMQ keeps reconnecting on its own. Also the status after `close()`. */
  DISCONNECTED: 'disconnected',
} as const;
export type ZmqStatus = (typeof ZmqStatus)[keyof typeof ZmqStatus];

/** Why the server rejected an incoming message. */
export const ZmqRejectReason = {
  /** Frame 0 is empty, so there is no topic. */
  EMPTY_TOPIC: 'empty-topic',
  /** Frame 0 is not valid UTF-8. */
  INVALID_TOPIC: 'invalid-topic',
  /** The payload could not be decoded (invalid UTF-8, bad JSON, a custom deserializer threw). */
  DECODE_FAILED: 'decode-failed',
  /** The topic passed a ZeroMQ prefix subscription but no pattern matches it exactly. */
  NO_HANDLER: 'no-handler',
} as const;
export type ZmqRejectReason = (typeof ZmqRejectReason)[keyof typeof ZmqRejectReason];

/** Events of `ZmqServer.on()`. */
export type ZmqServerEvents = {
  /** Connected to a publisher (ZeroMQ's `connect` socket event). */
  connect: (address: string) => void;
  /** Lost a publisher; ZeroMQ reconnects by itself. */
  disconnect: (address: string) => void;
  /** A message was rejected; `topic` is undefined when frame 0 is not a topic. */
  rejected: (reason: ZmqRejectReason, frames: Buffer[], topic: string | undefined) => void;
  /** Messages from a publisher in `sequence` mode never arrived (it restarted, a queue overflowed, the network broke). */
  gap: (gap: ZmqGap) => void;
  /** A handler threw or rejected. */
  'handler-error': (topic: string, error: unknown) => void;
  /** The receive loop failed. */
  error: (error: Error) => void;
};

/** Events of `ZmqClient.on()`. */
export type ZmqClientEvents = {
  /** A subscriber connected to this publisher (ZeroMQ's `accept` socket event). */
  connect: (address: string) => void;
  /** A subscriber went away. */
  disconnect: (address: string) => void;
  /** A subscriber subscribed to a topic prefix (read from the XPUB socket). */
  subscribe: (prefix: string) => void;
  /** A subscriber dropped a topic prefix, or disconnected. */
  unsubscribe: (prefix: string) => void;
  /** An emit failed and nobody was subscribed to its observable to hear of it. */
  error: (error: Error) => void;
};

/** Counters of what the server received, in the order a message meets them. */
export interface ZmqServerStats {
  /** Messages read from the socket. */
  received: number;
  /** Messages handed to at least one handler. */
  dispatched: number;
  /** Messages rejected, by reason. */
  rejected: Record<ZmqRejectReason, number>;
  /** Handler invocations that threw or rejected. */
  handlerErrors: number;
  /** Gaps seen in sequenced streams, and the messages they add up to. */
  gaps: number;
  missed: number;
}

/** Counters of what the client sent. */
export interface ZmqClientStats {
  /** Emits handed to ZeroMQ. */
  sent: number;
  /** Emits that failed (bad payload, closed client, send error). */
  failed: number;
}
