import { describe, expect, it } from 'vitest';
import {
  GapDetector,
  readSequence,
  SEQUENCE_FRAME_SIZE,
  SequenceStamper,
} from '../../src/zmq/zmq.sequence.js';

describe('sequence frames', () => {
  it('number each topic of a publisher from 0, in a 21-byte frame', () => {
    const stamper = new SequenceStamper();
    const id = stamper.id.toString('hex');
    const frames = [stamper.stamp('a'), stamper.stamp('a'), stamper.stamp('b'), stamper.stamp('a')];
    expect(frames.every((frame) => frame.length === SEQUENCE_FRAME_SIZE)).toBe(true);
    expect(frames.map(readSequence)).toEqual([
      { publisher: id, seq: 0 },
      { publisher: id, seq: 1 },
      { publisher: id, seq: 0 },
      { publisher: id, seq: 2 },
    ]);
    expect(frames[0]!.subarray(0, 5)).toEqual(Buffer.from('\0ZSQ\x01', 'latin1'));
  });

  it('carry numbers past 2^32', () => {
    const frame = new SequenceStamper().stamp('t');
    frame.writeUInt32BE(3, 13);
    frame.writeUInt32BE(7, 17);
    expect(readSequence(frame)!.seq).toBe(3 * 2 ** 32 + 7);
  });

  it('are not mistaken for ordinary parts', () => {
    expect(readSequence(Buffer.from('a'.repeat(SEQUENCE_FRAME_SIZE)))).toBeUndefined();
    expect(readSequence(Buffer.alloc(SEQUENCE_FRAME_SIZE))).toBeUndefined();
    const almost = new SequenceStamper().stamp('t');
    expect(readSequence(almost.subarray(0, SEQUENCE_FRAME_SIZE - 1))).toBeUndefined();
  });
});

const a = (seq: number) => ({ publisher: 'aaaa', seq });

describe('GapDetector', () => {
  it('reports what is missing in each (publisher, topic) stream, and nothing otherwise', () => {
    const detector = new GapDetector();
    expect(detector.check('t', a(0))).toBeUndefined();
    expect(detector.check('t', a(1))).toBeUndefined();
    expect(detector.check('u', a(0))).toBeUndefined();
    expect(detector.check('t', a(5))).toEqual({
      publisher: 'aaaa',
      topic: 't',
      expected: 2,
      received: 5,
      missed: 3,
    });
    expect(detector.check('t', a(6))).toBeUndefined();
    expect(detector.check('t', { publisher: 'bbbb', seq: 0 })).toBeUndefined();
  });

  it('reports what a publisher sent before it was first heard on a topic', () => {
    expect(new GapDetector().check('t', { publisher: 'cc', seq: 4 })).toEqual({
      publisher: 'cc',
      topic: 't',
      expected: 0,
      received: 4,
      missed: 4,
    });
  });
});
