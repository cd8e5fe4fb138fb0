import type { ReadPacket } from '@nestjs/microservices';

/** One outgoing frame: a string (sent as UTF-8) or raw bytes. */
export type ZmqFrame = string | Buffer | Uint8Array;

/** How payloads are put in frames: see the README's "Wire format". */
export type ZmqCodec = 'frames' | 'json';

/** What a handler receives for each part under the frames codec. */
export type ZmqReceiveAs = 'string' | 'buffer';

/** What the publisher does when a subscriber's queue is full. */
export type ZmqBackpressure = 'drop' | 'block';

/**
 * Turns an outgoing packet into the frames that follow the topic.
 * Structurally a Nest `Serializer`, so any serializer written for Nest fits if it returns frames.
 */
export interface ZmqSerializer {
  serialize(packet: ReadPacket): ZmqFrame[];
}

/**
 * Turns the frames that follow the topic back into the value a handler receives.
 * Throwing rejects the message: it is logged and counted, and delivery goes on.
 */
export interface ZmqDeserializer {
  deserialize(frames: Buffer[], options: { topic: string }): unknown;
}

/**
 * Options of `ZmqServer`, `ZmqClient` and `ZmqModule`. Every field has an environment variable
 * (read by `ZmqModule.forRoot()` and `zmqOptionsFromEnv()`), named in its comment.
 */
export interface ZmqOptions {
  /**
   * Where this instance's publisher binds, e.g. `tcp://*:5555`, `ipc:///run/bus.sock`,
   * `inproc://bus`; `tcp://127.0.0.1:*` binds an ephemeral port (see `ZmqClient.endpoint`).
   * Unset: the instance publishes nothing and `emit` fails. Env `ZMQ_ADDRESS_PUB`.
   */
  pubAddress?: string;
  /**
   * Publishers to subscribe to, as a list or a comma-separated string (whitespace trimmed,
   * empty entries dropped). Unset or empty: the instance receives nothing. Env `ZMQ_ADDRESS_SUB`.
   */
  subAddresses?: string | readonly string[];
  /**
   * `frames` (default): each part is one frame, byte-compatible with CubicWeb and plain ZeroMQ peers.
   * `json`: the payload is one JSON frame after the topic. Env `ZMQ_CODEC`.
   */
  codec?: ZmqCodec;
  /** Frames codec only: handlers get parts as `string` (UTF-8, default) or raw `buffer`s. Env `ZMQ_RECEIVE_AS`. */
  receiveAs?: ZmqReceiveAs;
  /** Replaces the codec's serializer on the publishing side. */
  serializer?: ZmqSerializer;
  /** Replaces the codec's deserializer on the subscribing side. */
  deserializer?: ZmqDeserializer;
  /**
   * `drop` (default, ZeroMQ's PUB behaviour): a subscriber whose queue is full misses messages, and
   * a stalled subscriber never stalls the publisher. `block` (`ZMQ_XPUB_NODROP`): the publisher waits
   * for room instead, so nothing is dropped. Env `ZMQ_BACKPRESSURE`.
   */
  backpressure?: ZmqBackpressure;
  /** `ZMQ_SNDHWM`: messages queued per subscriber before dropping or waiting. Default 1000. Env `ZMQ_SNDHWM`. */
  sendHighWaterMark?: number;
  /** `ZMQ_RCVHWM`: messages queued per publisher on the receiving side. Default 1000. Env `ZMQ_RCVHWM`. */
  receiveHighWaterMark?: number;
  /**
   * `ZMQ_LINGER`, in milliseconds: on close, how long pending emits may take to be handed to ZeroMQ
   * and then flushed to peers before they are discarded. Default 1000. Env `ZMQ_LINGER`.
   */
  linger?: number;
  /**
   * `ZMQ_MAXMSGSIZE`, in bytes: a peer sending a larger message is disconnected.
   * Default -1 (no limit). Env `ZMQ_MAX_MESSAGE_SIZE`.
   */
  maxMessageSize?: number;
  /** `ZMQ_RECONNECT_IVL`, in milliseconds: wait before reconnecting to a lost publisher. Default 100. Env `ZMQ_RECONNECT_IVL`. */
  reconnectInterval?: number;
  /**
   * Publishing side: number each topic's messages and append a 21-byte sequence frame, so that
   * subscribers detect missed messages (the server's `gap` event). An explicit extension of the
   * frames format: plain peers see one more part. Default false. Env `ZMQ_SEQUENCE` (true/false).
   */
  sequence?: boolean;
  /**
   * CURVE (`ZMQ_CURVE_PUBLICKEY`): this instance's public key, 40 characters of Z85 (`npm run keys`
   * makes a pair). With `curveSecretKey` it turns CURVE encryption and authentication on for both
   * the publisher and the subscriber; set both or neither. Default unset (plain text).
   * Env `ZMQ_CURVE_PUBLIC_KEY`.
   */
  curvePublicKey?: string;
  /** CURVE (`ZMQ_CURVE_SECRETKEY`): this instance's secret key, the pair of `curvePublicKey`. Env `ZMQ_CURVE_SECRET_KEY`. */
  curveSecretKey?: string;
  /**
   * CURVE (`ZMQ_CURVE_SERVERKEY`): public keys of the publishers this instance subscribes to, as a
   * list or a comma-separated string. Either one key per address of `subAddresses`, in the same
   * order, or a single key for all of them. Required with CURVE when `subAddresses` is set.
   * Env `ZMQ_CURVE_SERVER_KEYS`.
   */
  curveServerKeys?: string | readonly string[];
  /**
   * CURVE: public keys of the subscribers this instance's publisher admits (checked by a ZAP
   * handler), as a list or a comma-separated string; `*` admits any CURVE client that has this
   * publisher's public key (encryption without client authorization). Required with CURVE when
   * `pubAddress` is set. Env `ZMQ_CURVE_CLIENT_KEYS`.
   */
  curveClientKeys?: string | readonly string[];
}
