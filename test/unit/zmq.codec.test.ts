import { describe, expect, it } from 'vitest';
import {
  ZmqDecodeError,
  ZmqFramesDeserializer,
  ZmqFramesSerializer,
  ZmqJsonDeserializer,
  ZmqJsonSerializer,
  ZmqPayloadError,
} from '../../src/zmq/index.js';

const packet = (data: unknown) => ({ pattern: 'topic', data });

describe('frames codec', () => {
  const serializer = new ZmqFramesSerializer();

  it('sends a string or a Buffer as one part and an array as one part each', () => {
    const bytes = Buffer.from([0xff, 0x00]);
    expect(serializer.serialize(packet('world'))).toEqual(['world']);
    expect(serializer.serialize(packet(bytes))).toEqual([bytes]);
    expect(serializer.serialize(packet(['world', 'again', bytes]))).toEqual(['world', 'again', bytes]);
    expect(serializer.serialize(packet([]))).toEqual([]);
  });

  it.each([
    [{ id: 1 }, /got an object \(Object\).*JSON codec/],
    [42, /got a number.*JSON codec/],
    [[1, 2], /part 0 is a number.*JSON codec/],
    [['a', { b: 1 }], /part 1 is an object/],
    [['a', null], /part 1 is null/],
  ])('refuses %j with a clear error pointing to the JSON codec', (data, message) => {
    expect(() => serializer.serialize(packet(data))).toThrow(ZmqPayloadError);
    expect(() => serializer.serialize(packet(data))).toThrow(message);
  });

  it('decodes parts as UTF-8 strings, or hands raw Buffers over', () => {
    const frames = [Buffer.from('wörld'), Buffer.from('')];
    expect(new ZmqFramesDeserializer().deserialize(frames)).toEqual(['wörld', '']);
    const raw = [Buffer.from([0xc3, 0x28])];
    expect(new ZmqFramesDeserializer('buffer').deserialize(raw)).toBe(raw);
  });

  it('rejects invalid UTF-8 when decoding strings', () => {
    const deserializer = new ZmqFramesDeserializer();
    expect(() => deserializer.deserialize([Buffer.from('ok'), Buffer.from([0xc3, 0x28])])).toThrow(
      ZmqDecodeError,
    );
    expect(() => deserializer.deserialize([Buffer.from([0xff])])).toThrow(/part 0 is not valid UTF-8/);
  });

  it('tells valid text that contains U+FFFD from invalid bytes that decode to it', () => {
    // Decoding is checked only when the text has a U+FFFD: both kinds must land on the right side.
    const deserializer = new ZmqFramesDeserializer();
    expect(deserializer.deserialize([Buffer.from('a\uFFFDb')])).toEqual(['a\uFFFDb']);
    expect(() => deserializer.deserialize([Buffer.from([0x61, 0xef, 0xbf])])).toThrow(ZmqDecodeError);
    expect(() => deserializer.deserialize([Buffer.from([0xed, 0xa0, 0x80])])).toThrow(ZmqDecodeError);
    expect(new ZmqJsonDeserializer().deserialize([Buffer.from('"\uFFFD"')])).toBe('\uFFFD');
    expect(() => new ZmqJsonDeserializer().deserialize([Buffer.from([0x22, 0xff, 0x22])])).toThrow(
      /not valid UTF-8/,
    );
  });
});

describe('JSON codec', () => {
  it('puts the payload in one JSON frame and reads it back', () => {
    const frames = new ZmqJsonSerializer().serialize(packet({ ids: [1, 2], ok: true }));
    expect(frames).toEqual(['{"ids":[1,2],"ok":true}']);
    expect(new ZmqJsonDeserializer().deserialize(frames.map((frame) => Buffer.from(frame)))).toEqual({
      ids: [1, 2],
      ok: true,
    });
  });

  it('refuses values JSON cannot represent', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => new ZmqJsonSerializer().serialize(packet(cyclic))).toThrow(ZmqPayloadError);
    expect(() => new ZmqJsonSerializer().serialize(packet(() => 1))).toThrow(/cannot serialize a function/);
  });

  it.each([
    [[], /expects one payload frame after the topic, got 0/],
    [[Buffer.from('1'), Buffer.from('2')], /got 2/],
    [[Buffer.from('{"a":')], /not valid JSON/],
    [[Buffer.from([0xff])], /not valid UTF-8/],
  ])('rejects malformed payloads (%#)', (frames, message) => {
    expect(() => new ZmqJsonDeserializer().deserialize(frames)).toThrow(message);
  });
});
