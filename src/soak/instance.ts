/**
 * One instance of the soak (`src/soak/soak.ts`): a Nest microservice on the bus, configured by
 * environment variables like the example app, that publishes numbered `soak` messages and counts
 * those of each peer, driven by its parent over Node's IPC channel.
 */
import 'reflect-metadata';
import { Controller, Injectable, type INestMicroservice, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { EventPattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { ZmqClient, ZmqModule, ZmqRejectReason, ZmqServer } from '../zmq/index.js';
import type { PeerTally, RssSamples, SoakCommand, SoakEvent } from './protocol.js';

export const SOAK_TOPIC = 'soak';
/** Makes each message about 100 bytes on the wire, so that a per-message leak shows. */
const FILLER = 'x'.repeat(80);
const RSS_SAMPLE_MS = 100;

const instance = process.env.INSTANCE_NAME ?? `soak-${process.pid}`;

/** Counts each peer's messages and checks that their sequence numbers come in order. */
@Injectable()
class Tally {
  readonly from = new Map<string, PeerTally & { next: number }>();
  private readonly waiters = new Set<() => void>();

  record(origin: string, seq: number): void {
    let peer = this.from.get(origin);
    if (!peer) this.from.set(origin, (peer = { received: 0, duplicates: 0, skipped: 0, next: 0 }));
    peer.received++;
    if (seq < peer.next) peer.duplicates++;
    else {
      peer.skipped += seq - peer.next;
      peer.next = seq + 1;
    }
    for (const check of this.waiters) check();
  }

  /** Resolves once the count from each peer reaches `expect`. */
  reach(expect: Record<string, number>): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        const done = Object.entries(expect).every(([peer, n]) => (this.from.get(peer)?.received ?? 0) >= n);
        if (done) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      check();
    });
  }
}

@Controller()
class SoakController {
  constructor(private readonly tally: Tally) {}

  @EventPattern<string>(SOAK_TOPIC)
  onMessage(@Payload() [origin, seq]: string[]) {
    this.tally.record(origin ?? '', Number(seq));
  }
}

@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true }), ZmqModule.forRoot()],
  controllers: [SoakController],
  providers: [Tally],
})
class SoakModule {}

function post(event: SoakEvent): void {
  if (process.connected) process.send!(event);
}

/** Emits `count` messages numbered from `first`, awaiting each one `window` emits later. */
async function publish(client: ZmqClient, first: number, count: number, window: number): Promise<void> {
  const inFlight: (Promise<unknown> | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    const slot = i % window;
    if (inFlight[slot]) await inFlight[slot];
    inFlight[slot] = lastValueFrom(client.emit(SOAK_TOPIC, [instance, String(first + i), FILLER]), {
      defaultValue: undefined,
    });
  }
  await Promise.all(inFlight);
}

class RssSampler {
  private samples: RssSamples | undefined;
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    const rss = process.memoryUsage.rss();
    this.samples = { start: rss, peak: rss, end: rss, samples: 1 };
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  get result(): RssSamples | undefined {
    return this.samples && { ...this.samples };
  }

  private sample(): void {
    if (!this.samples) return;
    const rss = process.memoryUsage.rss();
    this.samples.peak = Math.max(this.samples.peak, rss);
    this.samples.end = rss;
    this.samples.samples++;
  }
}

async function main(): Promise<void> {
  const app: INestMicroservice = await NestFactory.createMicroservice(SoakModule, {
    inject: [ZmqServer],
    useFactory: (server: ZmqServer) => ({ strategy: server }),
    logger: ['error', 'warn'],
  });
  await app.listen();
  const client = app.get(ZmqClient);
  const server = app.get(ZmqServer);
  const tally = app.get(Tally);
  const rss = new RssSampler();
  let sent = 0;
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> =>
    (stopping ??= app.close().finally(() => {
      if (process.connected) process.disconnect();
    }));

  const handle = async (command: SoakCommand): Promise<void> => {
    switch (command.type) {
      case 'await-peers':
        await client.waitForSubscribers(SOAK_TOPIC, { count: command.count, timeout: command.timeoutMs });
        return post({ type: 'ready', instance });
      case 'phase': {
        if (command.name === 'main') rss.start();
        await Promise.all([
          publish(client, sent, command.send, command.window).then(() => (sent += command.send)),
          tally.reach(command.expect),
        ]);
        if (command.name === 'main') rss.stop();
        return post({ type: 'phase-done', instance, name: command.name });
      }
      case 'report': {
        const stats = server.getStats();
        const from = Object.fromEntries(
          [...tally.from].map(([peer, { received, duplicates, skipped }]) => [
            peer,
            { received, duplicates, skipped },
          ]),
        );
        return post({
          type: 'report',
          instance,
          ...client.getStats(),
          from,
          server: {
            received: stats.received,
            dispatched: stats.dispatched,
            rejected: Object.values(ZmqRejectReason).reduce((sum, reason) => sum + stats.rejected[reason], 0),
            handlerErrors: stats.handlerErrors,
          },
          rss: rss.result,
          heapUsed: process.memoryUsage().heapUsed,
        });
      }
      case 'stop':
        return stop();
    }
  };

  process.on('message', (command: SoakCommand) => {
    handle(command).catch((error: unknown) =>
      post({
        type: 'failed',
        instance,
        command: command.type,
        message: error instanceof Error ? error.message : String(error),
      }),
    );
  });
  // The runner is gone: nobody will ask us to stop.
  process.once('disconnect', () => void stop());
  post({ type: 'up', instance, endpoint: client.endpoint });
}

await main();
