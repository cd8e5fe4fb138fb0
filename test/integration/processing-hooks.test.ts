import { AsyncLocalStorage } from 'node:async_hooks';
import { Controller, Injectable } from '@nestjs/common';
import { Ctx, EventPattern, Payload, RpcException } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { delay, of, tap } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ZMQ_TRANSPORT, ZmqContext, ZmqModule, ZmqServer } from '../../src/zmq/index.js';
import { closeAfterEach, endpoint, removeIpcDir } from '../support/bus.js';
import { rawPublisher } from '../support/peers.js';
import { Waiters } from '../support/waiters.js';

type Step = 'start' | 'handler' | 'completed' | 'end';
interface Entry {
  step: Step;
  /** The message, as `topic part,part`. */
  message: string;
  /** The span the start hook opened, as seen at this step. */
  span: string | undefined;
}

/** What the hooks and handlers saw, in the order it happened. */
@Injectable()
class HookLog {
  readonly entries: Entry[] = [];
  /** Where a tracing start hook keeps its span for the handler's duration. */
  readonly spans = new AsyncLocalStorage<string>();
  private readonly waiters = new Waiters();

  /** `parts`: what the handler was given; by default the payload frames as strings. */
  push(step: Step, context: ZmqContext, parts = context.getPayloadFrames().map(String)): void {
    const message = `${context.getTopic()} ${parts.join(',')}`;
    this.entries.push({ step, message, span: this.spans.getStore() });
    this.waiters.notify();
  }

  /** Resolves once `count` entries of `step` are in. */
  wait(step: Step, count: number): Promise<true> {
    return this.waiters.until(
      () => (this.entries.filter((entry) => entry.step === step).length >= count ? true : undefined),
      10_000,
      () => new Error(`expected ${count} "${step}" entries: ${JSON.stringify(this.entries)}`),
    );
  }
}

@Controller()
class HookedController {
  constructor(private readonly log: HookLog) {}

  @EventPattern<string>('ok')
  ok(@Payload() parts: string[], @Ctx() context: ZmqContext) {
    this.log.push('handler', context, parts);
  }

  @EventPattern<string>('boom')
  boom(@Payload() parts: string[], @Ctx() context: ZmqContext) {
    this.log.push('handler', context, parts);
    throw new Error(`sync failure ${parts[0]}`);
  }

  @EventPattern<string>('reject')
  async reject(@Payload() parts: string[], @Ctx() context: ZmqContext) {
    await Promise.resolve();
    this.log.push('handler', context, parts);
    throw new RpcException(`async failure ${parts[0]}`);
  }

  @EventPattern<string>('stream')
  stream(@Payload() parts: string[], @Ctx() context: ZmqContext) {
    this.log.push('handler', context, parts);
    return of(parts).pipe(
      delay(1),
      tap(() => this.log.push('completed', context)),
    );
  }
}

const { closers } = closeAfterEach();
afterAll(removeIpcDir);

const MESSAGES = [
  ['ok', '0'],
  ['boom', '1'],
  ['reject', '2'],
  ['stream', '3'],
  ['ok', '4', 'four'],
];
const FAILING = 2;

/** A Nest microservice on ZmqServer; `setHooks` runs before it listens, as tracing sets its hooks. */
async function startWithHooks(address: string, setHooks: (server: ZmqServer, log: HookLog) => void) {
  const moduleRef = await Test.createTestingModule({
    imports: [ZmqModule.forRoot({ subAddresses: address })],
    controllers: [HookedController],
    providers: [HookLog],
  }).compile();
  moduleRef.useLogger(false);
  const server = moduleRef.get(ZmqServer);
  const log = moduleRef.get(HookLog);
  setHooks(server, log);
  const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
  closers.push(() => app.close());
  await app.init();
  await app.listen();
  return { server, log };
}

async function startHooked(address: string, hooks: { start: boolean; end: boolean }) {
  const hookCalls: { transportId: unknown; context: unknown }[] = [];
  const started = new Map<string, unknown>();
  const sameContext: boolean[] = [];
  const { server, log } = await startWithHooks(address, (server, log) => {
    if (hooks.start) {
      server.setOnProcessingStartHook((transportId, context, done) => {
        hookCalls.push({ transportId, context });
        const zmq = context as ZmqContext;
        log.push('start', zmq);
        started.set(zmq.getTopic() + zmq.getPayloadFrames().join(','), context);
        return log.spans.run(`span ${zmq.getTopic()} ${zmq.getPayloadFrames().join(',')}`, done);
      });
    }
    if (hooks.end) {
      server.setOnProcessingEndHook((transportId, context) => {
        hookCalls.push({ transportId, context });
        const zmq = context as ZmqContext;
        if (hooks.start)
          sameContext.push(started.get(zmq.getTopic() + zmq.getPayloadFrames().join(',')) === zmq);
        log.push('end', zmq);
      });
    }
  });
  return { server, log, hookCalls, sameContext };
}

describe.each([
  { start: true, end: true },
  { start: true, end: false },
  { start: false, end: true },
])('processing hooks set: %o', (hooks) => {
  it('run once around each handler call, with its ZmqContext, also when the handler fails', async () => {
    const address = await endpoint('inproc');
    const peer = await rawPublisher(address);
    closers.push(() => peer.close());
    const { server, log, hookCalls, sameContext } = await startHooked(address, hooks);
    for (const topic of ['ok', 'boom', 'reject', 'stream']) await peer.subscribed(topic);
    for (const message of MESSAGES) await peer.send(message);

    await log.wait('handler', MESSAGES.length);
    if (hooks.end) await log.wait('end', MESSAGES.length);
    await expect.poll(() => server.getStats().handlerErrors).toBe(FAILING);

    for (const [topic, ...parts] of MESSAGES) {
      const message = `${topic} ${parts.join(',')}`;
      const span = hooks.start ? `span ${message}` : undefined;
      const steps = log.entries.filter((entry) => entry.message === message);
      expect(steps).toEqual([
        ...(hooks.start ? [{ step: 'start', message, span: undefined }] : []),
        { step: 'handler', message, span },
        // The end hook of a handler that returns an Observable waits for it to complete.
        ...(topic === 'stream' ? [{ step: 'completed', message, span }] : []),
        ...(hooks.end ? [{ step: 'end', message, span }] : []),
      ]);
    }
    const perMessage = (hooks.start ? 1 : 0) + (hooks.end ? 1 : 0);
    expect(hookCalls).toHaveLength(MESSAGES.length * perMessage);
    for (const { transportId, context } of hookCalls) {
      expect(transportId).toBe(ZMQ_TRANSPORT);
      expect(context).toBeInstanceOf(ZmqContext);
    }
    expect(sameContext).toEqual(hooks.start && hooks.end ? MESSAGES.map(() => true) : []);
    expect(server.getStats()).toMatchObject({
      received: MESSAGES.length,
      dispatched: MESSAGES.length,
      handlerErrors: FAILING,
    });
  });
});

// A start hook that throws synchronously is counted as a handler error; these fail
// asynchronously, through the promise that runWithProcessingHooks returns.
describe.each([
  [
    'an end hook that throws',
    (server: ZmqServer) =>
      server.setOnProcessingEndHook((_, context) => {
        if ((context as ZmqContext).getPayloadFrames()[0]?.toString() === '0')
          throw new Error('end hook bug');
      }),
  ],
  [
    'an async start hook that rejects',
    (server: ZmqServer) =>
      server.setOnProcessingStartHook(async (_, context, done) => {
        if ((context as ZmqContext).getPayloadFrames()[0]?.toString() === '0')
          throw new Error('start hook bug');
        return done();
      }),
  ],
])('%s', (_, setHook) => {
  it('neither leaves an unhandled rejection (a crash under Node defaults) nor stops delivery', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    closers.push(() => process.off('unhandledRejection', onUnhandled));
    const address = await endpoint('inproc');
    const peer = await rawPublisher(address);
    closers.push(() => peer.close());
    const { server, log } = await startWithHooks(address, setHook);
    await peer.subscribed('ok');

    await peer.send(['ok', '0']);
    await peer.send(['ok', '1']);
    await log.wait('handler', 1);
    await expect.poll(() => log.entries.map(({ message }) => message)).toContain('ok 1');
    // Unhandled rejections are reported once the microtasks of a turn have run.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
    // Counted and logged as the failure of that message's processing.
    await expect.poll(() => server.getStats().handlerErrors).toBe(1);
  });
});
