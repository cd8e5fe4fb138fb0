/** What the soak runner asks of an instance it forked, over Node's IPC channel. */
export type SoakCommand =
  /** Reply `ready` once `count` peers subscribe to this instance's messages. */
  | { type: 'await-peers'; count: number; timeoutMs: number }
  /**
   * Publish `send` more messages, at most `window` emits in flight, and reply `phase-done` once
   * they are sent and the counts received from each peer reach `expect` (totals since the start).
   */
  | { type: 'phase'; name: SoakPhase; send: number; window: number; expect: Record<string, number> }
  | { type: 'report' }
  /** Close the app and let the process exit by itself. */
  | { type: 'stop' };

/** Warm-up first; memory is measured from the start of the main phase. */
export type SoakPhase = 'warmup' | 'main';

/** What one instance heard from one peer. */
export interface PeerTally {
  /** Messages received, duplicates included. */
  received: number;
  /** Sequence numbers seen again, or late. */
  duplicates: number;
  /** Sequence numbers skipped when a later one arrived first. */
  skipped: number;
}

/** Resident set size, in bytes, over the main phase. */
export interface RssSamples {
  start: number;
  peak: number;
  end: number;
  samples: number;
}

export type SoakEvent = { instance: string } & (
  | { type: 'up'; endpoint: string | undefined }
  | { type: 'ready' }
  | { type: 'phase-done'; name: SoakPhase }
  | {
      type: 'report';
      /** Emits handed to ZeroMQ (`ZmqClient.getStats().sent`). */
      sent: number;
      /** Emits that failed. */
      failed: number;
      from: Record<string, PeerTally>;
      /** `ZmqServer.getStats()`: received, dispatched, rejected. */
      server: { received: number; dispatched: number; rejected: number; handlerErrors: number };
      rss: RssSamples | undefined;
      heapUsed: number;
    }
  | { type: 'failed'; command: string; message: string }
);
