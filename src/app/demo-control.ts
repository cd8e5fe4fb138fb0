import type { INestApplicationContext } from '@nestjs/common';
import { ZmqClient, ZmqServer } from '../zmq/index.js';
import { EntityCache } from './entity-cache.service.js';
import { EntityService } from './entity.service.js';
import { INSTANCE_NAME } from './instance-name.js';

/** What a parent process (the demo, the e2e test) asks of an instance it forked. */
export type ControlCommand =
  /** Reply `ready` once `count` peers subscribe to this instance's `delete` messages. */
  | { type: 'await-peers'; count: number; timeout?: number }
  /** Delete these entities here and publish `delete` with their ids. */
  | { type: 'delete'; ids: number[] }
  /** Reply with a `report` of the cache and the bus counters. */
  | { type: 'report' };

/** What the instance tells its parent. Every event names the instance. */
export type ControlEvent = { instance: string } & (
  | { type: 'up'; endpoint: string | undefined; cache: number[] }
  | { type: 'ready'; subscribers: number }
  | { type: 'sent'; ids: number[] }
  | { type: 'evicted'; ids: number[]; evicted: number[] }
  | {
      type: 'report';
      cache: number[];
      /** Ids this instance published. */
      sentIds: number;
      /** `ZmqClient.getStats().sent`: messages handed to ZeroMQ. */
      messagesSent: number;
      /** `ZmqServer.getStats().dispatched`: messages that reached a handler. */
      messagesReceived: number;
    }
  | { type: 'failed'; command: string; message: string }
);

/** The instance's side of the IPC channel; `stop()` lets the process exit without the parent. */
export interface DemoControl {
  stop(): void;
}

function post(event: ControlEvent): void {
  if (process.connected) process.send!(event);
}

/** The parent is gone and will never send SIGTERM: stop the way it would have. */
function onDisconnect(): void {
  process.kill(process.pid, 'SIGTERM');
}

/**
 * Lets a parent drive this instance over Node's IPC channel (`child_process.fork`). Inactive,
 * and returns undefined, when the process was not forked with one.
 */
export function startDemoControl(app: INestApplicationContext): DemoControl | undefined {
  if (!process.send) return undefined;
  const instance = app.get<string>(INSTANCE_NAME);
  const cache = app.get(EntityCache);
  const entities = app.get(EntityService);
  const client = app.get(ZmqClient);
  const server = app.get(ZmqServer);

  const fail = (command: string, error: unknown): void =>
    post({
      type: 'failed',
      instance,
      command,
      message: error instanceof Error ? error.message : String(error),
    });

  const handle = async (command: ControlCommand): Promise<void> => {
    switch (command.type) {
      case 'await-peers':
        await client.waitForSubscribers('delete', { count: command.count, timeout: command.timeout });
        return post({ type: 'ready', instance, subscribers: command.count });
      case 'delete':
        await entities.remove(command.ids);
        return post({ type: 'sent', instance, ids: command.ids });
      case 'report':
        return post({
          type: 'report',
          instance,
          cache: cache.ids(),
          sentIds: entities.sent,
          messagesSent: client.getStats().sent,
          messagesReceived: server.getStats().dispatched,
        });
      default:
        throw new Error(`unknown command ${JSON.stringify(command)}`);
    }
  };

  const evictions = cache.evictions$.subscribe(({ origin, ids, evicted }) => {
    if (origin === 'bus') post({ type: 'evicted', instance, ids, evicted });
  });
  const onMessage = (command: ControlCommand): void => {
    handle(command).catch((error: unknown) => fail(String(command?.type), error));
  };
  process.on('message', onMessage);
  process.once('disconnect', onDisconnect);
  post({ type: 'up', instance, endpoint: client.endpoint, cache: cache.ids() });

  return {
    stop() {
      evictions.unsubscribe();
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
    },
  };
}
