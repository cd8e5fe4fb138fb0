import type { PeerName } from '../protocol.js';
import type { Peer } from './peer.js';

/**
 * Loaded on demand, so that a child loads only its own transport: the raw zeromq.js processes
 * carry no Nest, which keeps their start-up short and their RSS figures honest.
 */
export const loadPeer: Record<PeerName, () => Promise<Peer>> = {
  'raw-zmq': async () => (await import('./raw-zmq.js')).rawZmq,
  bus: async () => (await import('./bus.js')).bus,
  'nest-redis': async () => {
    const [{ Transport }, { nestTransport }] = await Promise.all([
      import('@nestjs/microservices'),
      import('./nest-transport.js'),
    ]);
    return nestTransport(({ servers }) => ({
      transport: Transport.REDIS,
      options: { host: servers.redis!.host, port: servers.redis!.port },
    }));
  },
  'nest-nats': async () => {
    const [{ Transport }, { nestTransport }] = await Promise.all([
      import('@nestjs/microservices'),
      import('./nest-transport.js'),
    ]);
    return nestTransport(({ servers }) => ({
      transport: Transport.NATS,
      options: { servers: [servers.nats!.url] },
    }));
  },
};
