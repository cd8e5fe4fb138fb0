import { BaseRpcContext } from '@nestjs/microservices';
import type { ZmqSequence } from './zmq.sequence.js';

type ZmqContextArgs = [topic: string, frames: Buffer[], sequence: ZmqSequence | undefined];

/** What a handler can ask about the message it received: `@Ctx() ctx: ZmqContext`. */
export class ZmqContext extends BaseRpcContext<ZmqContextArgs> {
  /** The topic: frame 0, decoded as UTF-8. */
  getTopic(): string {
    return this.args[0];
  }

  /** Every frame as received, topic (and sequence frame, if any) included, as raw Buffers. */
  getFrames(): Buffer[] {
    return this.args[1];
  }

  /** The payload frames, between the topic and the sequence frame if any, as raw Buffers. */
  getPayloadFrames(): Buffer[] {
    return this.args[1].slice(1, this.args[2] ? -1 : undefined);
  }

  /** The publisher's id and the message's number, when the publisher runs in `sequence` mode. */
  getSequence(): ZmqSequence | undefined {
    return this.args[2];
  }
}
