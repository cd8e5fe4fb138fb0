import { BaseRpcContext } from '@nestjs/microservices';

type ZmqContextArgs = [topic: string, frames: Buffer[]];

/** What a handler can ask about the message it received: `@Ctx() ctx: ZmqContext`. */
export class ZmqContext extends BaseRpcContext<ZmqContextArgs> {
  /** The topic: frame 0, decoded as UTF-8. */
  getTopic(): string {
    return this.args[0];
  }

  /** Every frame as received, topic included, as raw Buffers. */
  getFrames(): Buffer[] {
    return this.args[1];
  }

  /** The payload frames (after the topic) as raw Buffers. */
  getPayloadFrames(): Buffer[] {
    return this.args[1].slice(1);
  }
}
