import type { Scenario, ServerAddresses } from '../protocol.js';
import type { Sink } from '../sink.js';

export type Payload = string | Buffer;

export interface PeerEnv {
  scenario: Scenario;
  /** ZeroMQ peers: where the publisher binds and subscribers connect. */
  endpoint?: string;
  servers: ServerAddresses;
}

export interface BenchPublisher {
  /** One emit, awaited the way a user awaits it on this transport. */
  send(topic: string, payload: Payload): Promise<void>;
  /** One emit, not awaited. Absent where the transport cannot (one pending send per zeromq.js socket). */
  fire?(topic: string, payload: Payload): void;
  /** Resolves once every fired emit has been handed to the transport. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface BenchSubscriber {
  close(): Promise<void>;
}

export interface Peer {
  /** Whether a binary payload goes out as a Buffer (zeromq) or has to be a string (JSON transports). */
  sendsBuffers: boolean;
  publisher(env: PeerEnv): Promise<BenchPublisher>;
  subscriber(env: PeerEnv, sink: Sink): Promise<BenchSubscriber>;
}
