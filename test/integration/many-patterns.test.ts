import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { afterAll, describe, expect, it } from 'vitest';
import { closeAfterEach, endpoint, removeIpcDir } from '../support/bus.js';
import { rawPublisher, RecordingLogger } from '../support/peers.js';

const { closers, bus } = closeAfterEach();
afterAll(removeIpcDir);

/** A controller with one `@EventPattern` per topic, `news.0.created` to `news.{count - 1}.created`. */
function controllerFor(count: number) {
  class ManyTopics {}
  for (let i = 0; i < count; i++) {
    const key = `on${i}`;
    Object.defineProperty(ManyTopics.prototype, key, { value: () => undefined, writable: true });
    EventPattern(`news.${i}.created`)(
      ManyTopics.prototype,
      key,
      Object.getOwnPropertyDescriptor(ManyTopics.prototype, key)!,
    );
  }
  Controller()(ManyTopics);
  return ManyTopics;
}

describe('a server with more subscription prefixes than ZeroMQ hands a new connection', () => {
  // libzmq sends a publisher no more subscriptions than the SUB's send high-water mark (1000)
  // when they connect, and drops the rest: say so at startup rather than lose topics silently.
  it.each([
    [1000, 0],
    [1001, 1],
  ])('with %i prefixes logs %i warning(s)', async (count, warnings) => {
    const address = await endpoint('inproc');
    const peer = await rawPublisher(address);
    closers.push(() => peer.close());
    const logger = new RecordingLogger();
    await bus({ subAddresses: address }, [controllerFor(count)], [], logger);
    await peer.subscribed('news.0.created');
    expect(
      logger.find('warn', /subscription prefixes, but ZeroMQ hands a publisher at most 1000/),
    ).toHaveLength(warnings);
  });
});
