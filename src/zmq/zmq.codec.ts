import { isUtf8 } from 'node:buffer';
import type { ReadPacket } from '@nestjs/microservices';
import type { ResolvedZmqOptions } from './zmq.config.js';
import type { ZmqDeserializer, ZmqFrame, ZmqSerializer } from './zmq.options.js';

/** Data that the chosen codec cannot put on the wire; the emit fails with this error. */
export class ZmqPayloadError extends Error {
  override readonly name = 'ZmqPayloadError';
}

/** A message whose payload cannot be decoded; it is rejected, logged and counted. */
export class ZmqDecodeError extends Error {
  override readonly name = 'ZmqDecodeError';
}

/**
 * The frame decoded as UTF-8, or undefined when it is not valid UTF-8. Decoding replaces every
 * invalid sequence with U+FFFD, which valid text may also contain: only a frame whose text has
 * one is checked byte by byte, so a message costs one native call per frame rather than two.
 */
export function decodeUtf8(frame: Buffer): string | undefined {
  const text = frame.toString('utf8');
  return text.includes('\uFFFD') && !isUtf8(frame) ? undefined : text;
}

function isFrame(value: unknown): value is ZmqFrame {
  return typeof value === 'string' || value instanceof Uint8Array;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

/**
 * The default, CubicWeb-compatible codec: a string or bytes is one part, an array of them is
 * one part each. Anything else is refused rather than sent as `[object Object]`.
 */
export class ZmqFramesSerializer implements ZmqSerializer {
  serialize({ data }: ReadPacket): ZmqFrame[] {
    if (isFrame(data)) return [data];
    if (Array.isArray(data)) {
      for (let i = 0; i < data.length; i++) {
        if (!isFrame(data[i])) {
          throw new ZmqPayloadError(
            `The frames codec sends strings and Buffers only, but part ${i} is ${describe(data[i])}. ` +
              "Convert the parts to strings, or choose the JSON codec (codec: 'json', ZMQ_CODEC=json).",
          );
        }
      }
      return data as ZmqFrame[];
    }
    throw new ZmqPayloadError(
      `The frames codec sends a string, a Buffer or an array of them, but got ${describe(data)}. ` +
        "Choose the JSON codec (codec: 'json', ZMQ_CODEC=json) to send other values.",
    );
  }
}

/** Frames codec, receiving side: each part as a UTF-8 string, or as the raw Buffer. */
export class ZmqFramesDeserializer implements ZmqDeserializer {
  constructor(private readonly receiveAs: 'string' | 'buffer' = 'string') {}

  deserialize(frames: Buffer[]): string[] | Buffer[] {
    if (this.receiveAs === 'buffer') return frames;
    const parts: string[] = [];
    for (let i = 0; i < frames.length; i++) {
      const part = decodeUtf8(frames[i]!);
      if (part === undefined) {
        throw new ZmqDecodeError(
          `part ${i} is not valid UTF-8 (set receiveAs: 'buffer' to accept raw bytes)`,
        );
      }
      parts.push(part);
    }
    return parts;
  }
}

/** JSON codec: the payload is exactly one JSON frame after the topic. */
export class ZmqJsonSerializer implements ZmqSerializer {
  serialize({ data }: ReadPacket): ZmqFrame[] {
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (err) {
      throw new ZmqPayloadError(`The JSON codec cannot serialize this payload: ${(err as Error).message}`);
    }
    if (json === undefined) throw new ZmqPayloadError(`The JSON codec cannot serialize ${describe(data)}.`);
    return [json];
  }
}

export class ZmqJsonDeserializer implements ZmqDeserializer {
  deserialize(frames: Buffer[]): unknown {
    if (frames.length !== 1) {
      throw new ZmqDecodeError(
        `the JSON codec expects one payload frame after the topic, got ${frames.length}`,
      );
    }
    const json = decodeUtf8(frames[0]!);
    if (json === undefined) throw new ZmqDecodeError('the JSON payload is not valid UTF-8');
    try {
      return JSON.parse(json);
    } catch (err) {
      throw new ZmqDecodeError(`the payload is not valid JSON: ${(err as Error).message}`);
    }
  }
}

export function createSerializer(options: ResolvedZmqOptions): ZmqSerializer {
  return (
    options.serializer ?? (options.codec === 'json' ? new ZmqJsonSerializer() : new ZmqFramesSerializer())
  );
}

export function createDeserializer(options: ResolvedZmqOptions): ZmqDeserializer {
  return (
    options.deserializer ??
    (options.codec === 'json' ? new ZmqJsonDeserializer() : new ZmqFramesDeserializer(options.receiveAs))
  );
}
