import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ZmqContext, ZmqPayloadError } from '../../src/zmq/index.js';
import { closeAfterEach, endpoint, removeIpcDir, type startBus, TRANSPORTS } from '../support/bus.js';
import { rawPublisher, rawSubscriber } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

@Controller()
class HelloController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('hello')
  onHello(@Payload() data: unknown, @Ctx() context: ZmqContext) {
    this.recorder.record('hello', { data, topic: context.getTopic(), frames: context.getFrames() });
  }
}

const hex = (frames: Buffer[]) => frames.map((frame) => frame.toString('hex'));

describe.each(TRANSPORTS)('delivery over %s', (transport) => {
  const teardown = closeAfterEach();
  const { closers } = teardown;
  const bus = (options: Parameters<typeof startBus>[0]) =>
    teardown.bus(options, [HelloController], [Recorder]);
  afterAll(removeIpcDir);

  it('puts exactly topic | part | part on the wire', async () => {
    const address = await endpoint(transport);
    const { client } = await bus({ pubAddress: address });
    const peer = rawSubscriber(address, ['hello']);
    closers.push(() => peer.close());
    await client.waitForSubscribers('hello');

    await lastValueFrom(client.emit('hello', ['world', 'again']));
    await lastValueFrom(client.emit('hello', 'one part'));
    await lastValueFrom(client.emit('hello', Buffer.from([0x00, 0xff, 0x10])));
    await lastValueFrom(client.emit('hello', []));

    const messages = await peer.receive(4);
    expect(messages.map(hex)).toEqual(
      [
        [Buffer.from('hello'), Buffer.from('world'), Buffer.from('again')],
        [Buffer.from('hello'), Buffer.from('one part')],
        [Buffer.from('hello'), Buffer.from([0x00, 0xff, 0x10])],
        [Buffer.from('hello')],
      ].map(hex),
    );
  });

  it('hands a plain peer’s message to @EventPattern with its parts and context', async () => {
    const address = await endpoint(transport);
    const peer = await rawPublisher(address);
    closers.push(() => peer.close());
    const { get } = await bus({ subAddresses: address });
    await peer.subscribed('hello');

    await peer.send(['hello', 'world']);
    await peer.send(['hello', 'wörld', 'again']);
    const [first, second] = (await get(Recorder).wait('hello', 2)) as {
      data: unknown;
      topic: string;
      frames: Buffer[];
    }[];
    expect(first).toEqual({
      data: ['world'],
      topic: 'hello',
      frames: [Buffer.from('hello'), Buffer.from('world')],
    });
    expect(second!.data).toEqual(['wörld', 'again']);
  });

  it('hands raw Buffers to handlers when receiveAs is buffer', async () => {
    const address = await endpoint(transport);
    const peer = await rawPublisher(address);
    closers.push(() => peer.close());
    const { get } = await bus({ subAddresses: address, receiveAs: 'buffer' });
    await peer.subscribed('hello');

    await peer.send(['hello', Buffer.from([0xc3, 0x28]), Buffer.alloc(0)]);
    const [received] = (await get(Recorder).wait('hello', 1)) as { data: Buffer[] }[];
    expect(received!.data).toEqual([Buffer.from([0xc3, 0x28]), Buffer.alloc(0)]);
  });

  it('carries one JSON frame under the JSON codec, end to end through Nest', async () => {
    const address = await endpoint(transport);
    const { client, get } = await bus({ pubAddress: address, subAddresses: address, codec: 'json' });
    const peer = rawSubscriber(address, ['hello']);
    closers.push(() => peer.close());
    await client.waitForSubscribers('hello', { count: 2 });

    const payload = { ids: [42, 43], reason: 'deleted', nested: { ok: true } };
    await lastValueFrom(client.emit('hello', payload));
    const [received] = (await get(Recorder).wait('hello', 1)) as { data: unknown }[];
    expect(received!.data).toEqual(payload);
    const [frames] = await peer.receive(1);
    expect(frames!.map(String)).toEqual(['hello', JSON.stringify(payload)]);
  });

  it('uses a custom serializer and deserializer given in the options', async () => {
    const address = await endpoint(transport);
    // A toy codec: the payload as one frame of comma-separated numbers, read back as numbers.
    const serializer = { serialize: ({ data }: { data: number[] }) => [data.join(',')] };
    const deserializer = { deserialize: ([frame]: Buffer[]) => String(frame).split(',').map(Number) };
    const { client, get } = await bus({
      pubAddress: address,
      subAddresses: address,
      serializer,
      deserializer,
    });
    const peer = rawSubscriber(address, ['hello']);
    closers.push(() => peer.close());
    await client.waitForSubscribers('hello', { count: 2 });

    await lastValueFrom(client.emit('hello', [4, 5, 6]));
    const [received] = (await get(Recorder).wait('hello', 1)) as { data: unknown }[];
    expect(received!.data).toEqual([4, 5, 6]);
    expect((await peer.receive(1))[0]!.map(String)).toEqual(['hello', '4,5,6']);
  });

  it('fails an emit the frames codec cannot carry, telling the user to choose the JSON codec', async () => {
    const address = await endpoint(transport);
    const { client } = await bus({ pubAddress: address, subAddresses: address });
    const peer = rawSubscriber(address, ['']);
    closers.push(() => peer.close());
    await client.waitForSubscribers('hello', { count: 2 });

    await expect(lastValueFrom(client.emit('hello', { id: 1 }))).rejects.toThrow(ZmqPayloadError);
    await expect(lastValueFrom(client.emit('hello', [1, 2]))).rejects.toThrow(/JSON codec/);
    await lastValueFrom(client.emit('hello', ['after']));
    // Only the valid message reached the wire: nothing was sent as "[object Object]".
    const [frames] = await peer.receive(1);
    expect(frames!.map(String)).toEqual(['hello', 'after']);
    expect(client.getStats()).toEqual({ sent: 1, failed: 2 });
  });
});
