import { setImmediate, setTimeout } from 'node:timers/promises';
import { Publisher, Subscriber } from 'zeromq';
import { PROBE_TOPIC, TOPIC } from '../protocol.js';
import type { Payload, Peer } from './peer.js';

/**
 * Under noDrop libzmq refuses a message with EAGAIN while a subscriber's queue is full, and
 * zeromq.js rejects rather than waits (a PUB socket always polls writable): try again shortly.
 */
async function sendWhenRoom(socket: Publisher, frames: Payload[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await socket.send(frames);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EAGAIN' || socket.closed) throw error;
      await (attempt === 0 ? setImmediate() : setTimeout(1));
    }
  }
}

/** The ceiling: the same frames (`topic | payload`) through zeromq.js alone, no Nest. */
export const rawZmq: Peer = {
  sendsBuffers: true,

  async publisher({ endpoint }) {
    // noDrop with the bus's default high-water mark, as `backpressure: 'block'` does.
    const socket = new Publisher({ noDrop: true, sendHighWaterMark: 1000, linger: 0 });
    await socket.bind(endpoint!);
    return {
      send: (topic, payload) => sendWhenRoom(socket, [topic, payload]),
      flush: async () => undefined,
      close: async () => socket.close(),
    };
  },

  async subscriber({ endpoint }, sink) {
    const socket = new Subscriber({ receiveHighWaterMark: 1000, linger: 0 });
    socket.connect(endpoint!);
    socket.subscribe(TOPIC);
    socket.subscribe(PROBE_TOPIC);
    void (async () => {
      for await (const [topic, payload] of socket) {
        if (topic!.toString() === PROBE_TOPIC) sink.probe();
        else sink.data(payload);
      }
    })().catch((error: unknown) => {
      if (!socket.closed) throw error;
    });
    return { close: async () => socket.close() };
  },
};
