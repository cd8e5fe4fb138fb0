export { ZmqClient, type WaitForSubscribersOptions } from './zmq.client.js';
export {
  ZmqDecodeError,
  ZmqFramesDeserializer,
  ZmqFramesSerializer,
  ZmqJsonDeserializer,
  ZmqJsonSerializer,
  ZmqPayloadError,
} from './zmq.codec.js';
export { parseAddressList, resolveZmqOptions, ZmqConfigError, zmqOptionsFromEnv } from './zmq.config.js';
export { ZMQ_DEFAULTS, ZMQ_ENV, ZMQ_OPTIONS, ZMQ_TRANSPORT } from './zmq.constants.js';
export { ZmqContext } from './zmq.context.js';
export {
  type ZmqClientEvents,
  type ZmqClientStats,
  ZmqRejectReason,
  type ZmqServerEvents,
  type ZmqServerStats,
  ZmqStatus,
} from './zmq.events.js';
export { ZmqModule, type ZmqModuleAsyncOptions } from './zmq.module.js';
export type {
  ZmqBackpressure,
  ZmqCodec,
  ZmqDeserializer,
  ZmqFrame,
  ZmqOptions,
  ZmqReceiveAs,
  ZmqSerializer,
} from './zmq.options.js';
export { ZmqPatternError } from './zmq.router.js';
export { SEQUENCE_FRAME_SIZE, type ZmqGap, type ZmqSequence } from './zmq.sequence.js';
export { REQUEST_RESPONSE_UNSUPPORTED, ZmqServer } from './zmq.server.js';
