import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { afterAll, describe, expect, it } from 'vitest';
import { closeAfterEach, endpoint, removeIpcDir } from '../support/bus.js';
import { rawPublisher } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

const { closers, bus } = closeAfterEach();
afterAll(removeIpcDir);

/** A controller with one `@EventPattern` per topic, `news.0.created` to `news.{count - 1}.created`. */
function controllerFor(count: number) {
  @Controller()
  class ManyTopics {
    constructor(readonly recorder: Recorder) {}
  }
  for (let i = 0; i < count; i++) {
    const key = `on${i}`;
    Object.defineProperty(ManyTopics.prototype, key, {
      value(this: ManyTopics) {
        this.recorder.record('news', i);
      },
      writable: true,
    });
    const descriptor = Object.getOwnPropertyDescriptor(ManyTopics.prototype, key)!;
    EventPattern(`news.${i}.created`)(ManyTopics.prototype, key, descriptor);
  }
  return ManyTopics;
}

describe('a server with more subscription prefixes than a SUB socket sends by default', () => {
  // libzmq hands a new connection no more subscriptions than the SUB's send high-water mark
  // (1000 by default) and drops the rest: with 3000 patterns, topics 1000 and up were lost.
  it('subscribes to every one of 3000 patterns, and receives each topic', async () => {
    const count = 3000;
    const address = await endpoint('tcp');
    const peer = await rawPublisher(address);
    closers.push(() => peer.close());
    const server = await bus({ subAddresses: address }, [controllerFor(count)], [Recorder]);
    for (let i = 0; i < count; i++) await peer.subscribed(`news.${i}.created`);
    expect(new Set(peer.subscriptions).size).toBe(count);
    for (const i of [0, 999, 1000, count - 1]) await peer.send([`news.${i}.created`]);
    expect(await server.get(Recorder).wait('news', 4)).toEqual([0, 999, 1000, count - 1]);
  });
});
