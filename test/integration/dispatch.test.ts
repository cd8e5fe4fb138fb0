import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ZmqContext } from '../../src/zmq/index.js';
import { type Bus, endpoint, removeIpcDir, startBus, TRANSPORTS } from '../support/bus.js';
import { rawPublisher } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

@Controller()
class ExactController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('hello')
  first(@Payload() parts: string[]) {
    this.recorder.record('hello#1', parts[0]);
  }

  @EventPattern<string>('hello')
  second(@Payload() parts: string[]) {
    this.recorder.record('hello#2', parts[0]);
  }

  @EventPattern<string>('hello.world')
  nested(@Payload() parts: string[]) {
    this.recorder.record('hello.world', parts[0]);
  }

  @EventPattern<string>('end')
  end(@Payload() parts: string[]) {
    this.recorder.record('end', parts[0]);
  }
}

@Controller()
class OtherController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('hello')
  elsewhere(@Payload() parts: string[]) {
    this.recorder.record('hello#3', parts[0]);
  }
}

@Controller()
class WildcardController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('cache.*')
  cache(@Payload() parts: string[], @Ctx() context: ZmqContext) {
    this.recorder.record('cache.*', `${context.getTopic()}:${parts[0]}`);
  }

  @EventPattern<string>('audit.>')
  audit(@Ctx() context: ZmqContext) {
    this.recorder.record('audit.>', context.getTopic());
  }

  @EventPattern<string>('cache.flush')
  flush() {
    this.recorder.record('cache.flush', 'flush');
  }

  @EventPattern<string>('end')
  end() {
    this.recorder.record('end', 'end');
  }
}

describe.each(TRANSPORTS)('dispatch over %s', (transport) => {
  let bus: Bus | undefined;
  let peer: Awaited<ReturnType<typeof rawPublisher>> | undefined;
  afterEach(async () => {
    await bus?.close();
    peer?.close();
  });
  afterAll(removeIpcDir);

  async function start(controllers: Parameters<typeof startBus>[1], topics: string[]) {
    const address = await endpoint(transport);
    peer = await rawPublisher(address);
    bus = await startBus({ subAddresses: address }, controllers, [Recorder]);
    for (const topic of topics) await peer.subscribed(topic);
    return bus.get(Recorder);
  }

  it('calls a handler for its exact topic only, and every handler of that topic', async () => {
    const recorder = await start([ExactController, OtherController], ['hello', 'end']);
    for (const topic of ['helloX', 'hello.world', 'hell', 'hello', 'hello.world.x', 'Hello']) {
      await peer!.send([topic, topic]);
    }
    await peer!.send(['end', 'end']);
    await recorder.wait('end', 1);
    expect(recorder.get('hello#1')).toEqual(['hello']);
    expect(recorder.get('hello#2')).toEqual(['hello']);
    expect(recorder.get('hello#3')).toEqual(['hello']);
    expect(recorder.get('hello.world')).toEqual(['hello.world']);
    expect(bus!.server.getStats()).toMatchObject({
      received: 5,
      dispatched: 3,
      rejected: { 'no-handler': 2 },
    });
  });

  it('matches * to one token and > to one or more, subscribing by the literal prefix', async () => {
    const recorder = await start([WildcardController], ['cache.x', 'audit.x', 'end']);
    const topics = [
      'cache.user',
      'cache.flush',
      'cache',
      'cache.user.42',
      'cacheX.y',
      'audit.login',
      'audit.login.failed',
      'audit',
      'end',
    ];
    for (const topic of topics) await peer!.send([topic, 'p']);
    await recorder.wait('end', 1);
    expect(recorder.get('cache.*')).toEqual(['cache.user:p', 'cache.flush:p']);
    expect(recorder.get('cache.flush')).toEqual(['flush']);
    expect(recorder.get('audit.>')).toEqual(['audit.login', 'audit.login.failed']);
    expect(peer!.subscriptions.toSorted()).toEqual(['audit.', 'cache.', 'end']);
  });
});
