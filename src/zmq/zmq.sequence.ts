import { randomBytes } from 'node:crypto';

// Trailer layout: "\0ZSQ", version 1, an 8-byte publisher id, the sequence number as a big-endian
// uint64. It goes last so that a plain peer still finds the topic and the parts where it expects them.
const MAGIC = Buffer.from([0x00, 0x5a, 0x53, 0x51, 0x01]);
const ID_AT = MAGIC.length;
const SEQ_AT = ID_AT + 8;
/** Size in bytes of the sequence frame the publisher appends in `sequence` mode. */
export const SEQUENCE_FRAME_SIZE = SEQ_AT + 8;
const TWO_32 = 2 ** 32;
const TRACKED_STREAMS_LIMIT = 10_000;

/** Where a sequenced message came from, and its number in its (publisher, topic) stream. */
export interface ZmqSequence {
  /** The publisher's id, 16 random hex digits, one per `ZmqClient` (so a restarted process has a new one). */
  publisher: string;
  /** Counts from 0 for each topic of that publisher. */
  seq: number;
}

/** Messages a subscriber never received from one publisher on one topic. */
export interface ZmqGap {
  publisher: string;
  topic: string;
  /** The number the subscriber expected next (0 for a publisher it had not heard on this topic). */
  expected: number;
  /** The number that arrived instead. */
  received: number;
  /** How many were missed: `received - expected`. */
  missed: number;
}

/** Numbers each topic's messages for one publisher. */
export class SequenceStamper {
  readonly id = randomBytes(8);
  private readonly next = new Map<string, number>();

  stamp(topic: string): Buffer {
    const seq = this.next.get(topic) ?? 0;
    this.next.set(topic, seq + 1);
    const frame = Buffer.allocUnsafe(SEQUENCE_FRAME_SIZE);
    MAGIC.copy(frame, 0);
    this.id.copy(frame, ID_AT);
    frame.writeUInt32BE(Math.floor(seq / TWO_32), SEQ_AT);
    frame.writeUInt32BE(seq % TWO_32, SEQ_AT + 4);
    return frame;
  }
}

/** Reads a sequence trailer, or returns undefined when the frame is not one. */
export function readSequence(frame: Buffer): ZmqSequence | undefined {
  if (frame.length !== SEQUENCE_FRAME_SIZE || frame.compare(MAGIC, 0, MAGIC.length, 0, MAGIC.length) !== 0) {
    return undefined;
  }
  return {
    publisher: frame.toString('hex', ID_AT, SEQ_AT),
    seq: frame.readUInt32BE(SEQ_AT) * TWO_32 + frame.readUInt32BE(SEQ_AT + 4),
  };
}

/**
 * Follows each (publisher, topic) stream. ZeroMQ filters by topic prefix, so a subscriber gets
 * either every message of a topic or none: numbering per topic makes any hole a real loss.
 */
export class GapDetector {
  private readonly expected = new Map<string, number>();

  check(topic: string, { publisher, seq }: ZmqSequence): ZmqGap | undefined {
    const key = `${publisher}\u0000${topic}`;
    const expected = this.expected.get(key) ?? 0;
    this.expected.delete(key);
    if (this.expected.size >= TRACKED_STREAMS_LIMIT) {
      this.expected.delete(this.expected.keys().next().value!);
    }
    this.expected.set(key, seq + 1);
    return seq > expected ? { publisher, topic, expected, received: seq, missed: seq - expected } : undefined;
  }
}
