import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestMicroservice, LoggerService, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { freePort } from '../../src/demo/instance-process.js';

export { freePort };
import { afterEach } from 'vitest';
import type { EventOfType, EventType, Socket } from 'zeromq';
import { ZmqClient, ZmqModule, type ZmqOptions, ZmqServer } from '../../src/zmq/index.js';

export type TransportName = 'tcp' | 'ipc' | 'inproc';
export const TRANSPORTS: TransportName[] = ['tcp', 'ipc', 'inproc'];

let ipcDir: string | undefined;
let counter = 0;

/** A fresh endpoint of the given transport, on loopback or under a temp dir. */
export async function endpoint(transport: TransportName): Promise<string> {
  counter++;
  if (transport === 'tcp') return `tcp://127.0.0.1:${await freePort()}`;
  if (transport === 'inproc') return `inproc://bus-${process.pid}-${counter}`;
  ipcDir ??= mkdtempSync(join(tmpdir(), 'zmq-bus-'));
  return `ipc://${join(ipcDir, `bus-${counter}.sock`)}`;
}

export function removeIpcDir(): void {
  if (ipcDir) rmSync(ipcDir, { recursive: true, force: true });
  ipcDir = undefined;
}

export interface Bus {
  app: INestMicroservice;
  client: ZmqClient;
  server: ZmqServer;
  get<T>(type: Type<T>): T;
  close(): Promise<void>;
}

/**
 * A real Nest microservice on the bus: `ZmqModule.forRoot(options)`, the given controllers and
 * providers, the server listening. It hears itself when `subAddresses` includes `pubAddress`.
 */
export async function startBus(
  options: ZmqOptions,
  controllers: Type[] = [],
  providers: Type[] = [],
  logger: LoggerService | false = false,
): Promise<Bus> {
  const moduleRef = await Test.createTestingModule({
    imports: [ZmqModule.forRoot(options)],
    controllers,
    providers,
  }).compile();
  moduleRef.useLogger(logger);
  const server = moduleRef.get(ZmqServer);
  const app = moduleRef.createNestMicroservice({ strategy: server, logger });
  await app.init();
  await app.listen();
  const client = app.get(ZmqClient);
  return { app, client, server, get: (type) => app.get(type), close: () => app.close() };
}

/** Resolves once `count` values have been pushed, or rejects after `timeoutMs` saying how many came. */
export function collector<T>(count: number, timeoutMs = 10_000) {
  const items: T[] = [];
  let resolveDone!: (items: T[]) => void;
  let rejectDone!: (error: Error) => void;
  const done = new Promise<T[]>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const timer = setTimeout(
    () =>
      rejectDone(
        new Error(`expected ${count} item(s), got ${items.length}: ${JSON.stringify(items.slice(0, 5))}`),
      ),
    timeoutMs,
  );
  return {
    items,
    done,
    push(item: T) {
      items.push(item);
      if (items.length === count) {
        clearTimeout(timer);
        resolveDone(items);
      }
    },
  };
}

/**
 * Resolves with the next socket event of `type` (a zeromq monitor event, or any of several), or
 * rejects after `timeoutMs`.
 */
export function nextSocketEvent<E extends EventType>(
  socket: Socket,
  type: E | readonly E[],
  timeoutMs = 15_000,
): Promise<EventOfType<E>> {
  const types: readonly E[] = Array.isArray(type) ? type : [type as E];
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      clearTimeout(timer);
      for (const each of types) socket.events.off(each, listener);
    };
    const listener = (event: EventOfType<E>): void => {
      stop();
      resolve(event);
    };
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(`no ${types.map((each) => `"${each}"`).join(' or ')} socket event within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    for (const each of types) socket.events.on(each, listener);
  });
}

/**
 * Teardown for a test file (or describe block): `closers` run in reverse order after each test,
 * and `bus()` is `startBus()` whose app is closed then.
 */
export function closeAfterEach() {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).toReversed()) await close();
  });
  const bus = async (...args: Parameters<typeof startBus>): Promise<Bus> => {
    const started = await startBus(...args);
    closers.push(() => started.close());
    return started;
  };
  return { closers, bus };
}
