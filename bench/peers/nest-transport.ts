import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { type ClientProxy, ClientsModule, type ClientOptions } from '@nestjs/microservices';
import { lastValueFrom, type Observable } from 'rxjs';
import type { Peer } from './peer.js';
import { SinkModule } from './nest-sink.js';

const CLIENT = 'BENCH_CLIENT';

/**
 * A built-in Nest transport (Redis, NATS) used as an application would: a `ClientsModule`
 * client's `emit` → `@EventPattern` handler in a Nest microservice. Payloads are strings,
 * since these transports JSON-encode them (a Buffer would become an array of numbers).
 */
export function nestTransport(options: (env: Parameters<Peer['publisher']>[0]) => ClientOptions): Peer {
  return {
    sendsBuffers: false,

    async publisher(env) {
      const app = await NestFactory.createApplicationContext(
        { imports: [ClientsModule.register([{ name: CLIENT, ...options(env) } as never])] },
        { logger: false },
      );
      await app.init();
      const client = app.get<ClientProxy>(CLIENT);
      await client.connect();
      let last: Observable<unknown> | undefined;
      return {
        send: (topic, payload) => lastValueFrom(client.emit(topic, payload), { defaultValue: undefined }),
        fire(topic, payload) {
          last = client.emit(topic, payload);
        },
        flush: async () => {
          if (last) await lastValueFrom(last, { defaultValue: undefined });
        },
        close: async () => {
          await client.close();
          await app.close();
        },
      };
    },

    async subscriber(env, sink) {
      const app = await NestFactory.createMicroservice(SinkModule.with(sink), {
        ...options(env),
        logger: false,
      } as never);
      await app.listen();
      return { close: () => app.close() };
    },
  };
}
