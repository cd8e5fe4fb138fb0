/**
 * Identifies this transport to Nest. Pass it as the second argument of a pattern decorator
 * (`@EventPattern('delete', ZMQ_TRANSPORT)`) to bind a handler to this bus only, in an
 * application that runs several transports.
 */
export const ZMQ_TRANSPORT = Symbol('ZMQ_TRANSPORT');

/** Injection token under which `ZmqModule` provides the resolved `ZmqOptions`. */
export const ZMQ_OPTIONS = Symbol('ZMQ_OPTIONS');

/** The environment variables this library reads, each mapped to the option it sets. */
export const ZMQ_ENV = {
  pubAddress: 'ZMQ_ADDRESS_PUB',
  subAddresses: 'ZMQ_ADDRESS_SUB',
  codec: 'ZMQ_CODEC',
  receiveAs: 'ZMQ_RECEIVE_AS',
  backpressure: 'ZMQ_BACKPRESSURE',
  sendHighWaterMark: 'ZMQ_SNDHWM',
  receiveHighWaterMark: 'ZMQ_RCVHWM',
  linger: 'ZMQ_LINGER',
  maxMessageSize: 'ZMQ_MAX_MESSAGE_SIZE',
  reconnectInterval: 'ZMQ_RECONNECT_IVL',
  sequence: 'ZMQ_SEQUENCE',
  curvePublicKey: 'ZMQ_CURVE_PUBLIC_KEY',
  curveSecretKey: 'ZMQ_CURVE_SECRET_KEY',
  curveServerKeys: 'ZMQ_CURVE_SERVER_KEYS',
  curveClientKeys: 'ZMQ_CURVE_CLIENT_KEYS',
} as const;

/** Defaults of every option, in one place. */
export const ZMQ_DEFAULTS = {
  codec: 'frames',
  receiveAs: 'string',
  backpressure: 'drop',
  sendHighWaterMark: 1000,
  receiveHighWaterMark: 1000,
  linger: 1000,
  maxMessageSize: -1,
  reconnectInterval: 100,
  sequence: false,
} as const;

/** Schemes ZeroMQ can bind or connect with that this bus supports. */
export const ZMQ_SCHEMES = ['tcp', 'ipc', 'inproc'] as const;

/** Malformed-input log lines are throttled per reason to one per this many milliseconds. */
export const REJECTION_LOG_INTERVAL_MS = 5000;
