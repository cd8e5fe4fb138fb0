import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { lastValueFrom, type Observable } from 'rxjs';
import { ZmqClient, ZmqModule, ZmqServer } from '../../src/zmq/index.js';
import type { Peer } from './peer.js';
import { SinkModule } from './nest-sink.js';

/** This bus end to end: `ZmqClient.emit` in a Nest app → `@EventPattern` handler in a Nest microservice. */
export const bus: Peer = {
  sendsBuffers: true,

  async publisher({ endpoint }) {
    const app = await NestFactory.createApplicationContext(
      { imports: [ZmqModule.forRoot({ pubAddress: endpoint, backpressure: 'block' })] },
      { logger: false },
    );
    await app.init();
    const client = app.get(ZmqClient);
    let last: Observable<unknown> | undefined;
    return {
      send: (topic, payload) => lastValueFrom(client.emit(topic, [payload]), { defaultValue: undefined }),
      fire(topic, payload) {
        last = client.emit(topic, [payload]);
      },
      flush: async () => {
        if (last) await lastValueFrom(last, { defaultValue: undefined });
      },
      close: () => app.close(),
    };
  },

  async subscriber({ endpoint, scenario }, sink) {
    const app = await NestFactory.createMicroservice(SinkModule.with(sink), {
      strategy: new ZmqServer({ subAddresses: endpoint, receiveAs: scenario.binary ? 'buffer' : 'string' }),
      logger: false,
    });
    await app.listen();
    return { close: () => app.close() };
  },
};
