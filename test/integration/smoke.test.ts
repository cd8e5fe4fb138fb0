import { Controller, Injectable } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { afterEach, describe, expect, it } from 'vitest';
import { ZmqContext } from '../../src/zmq/index.js';
import { type Bus, collector, endpoint, startBus } from '../support/bus.js';

@Injectable()
class Inbox {
  got = collector<[string, unknown]>(1);
}

@Controller()
class HelloController {
  constructor(private readonly inbox: Inbox) {}
  // <string> picks the untyped overload: the typed one makes @Ctx() unknown, TS1241 under strict.
  @EventPattern<string>('hello')
  onHello(@Payload() parts: string[], @Ctx() ctx: ZmqContext) {
    this.inbox.got.push([ctx.getTopic(), parts]);
  }
}

describe('smoke', () => {
  let bus: Bus | undefined;
  afterEach(async () => bus?.close());
  it('delivers hello', async () => {
    const address = await endpoint('tcp');
    bus = await startBus({ pubAddress: address, subAddresses: address }, [HelloController], [Inbox]);
    await bus.client.waitForSubscribers('hello');
    await new Promise<void>((resolve, reject) =>
      bus!.client.emit('hello', ['world', 'again']).subscribe({ complete: resolve, error: reject }),
    );
    expect(await bus.get(Inbox).got.done).toEqual([['hello', ['world', 'again']]]);
  });
});
