import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { Controller, Inject, Injectable, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { ClientsModule, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { Publisher } from 'zeromq';
import { afterAll, describe, expect, it } from 'vitest';
import {
  REQUEST_RESPONSE_UNSUPPORTED,
  ZmqClient,
  ZmqConfigError,
  ZmqModule,
  ZmqServer,
  ZmqStatus,
} from '../../src/zmq/index.js';
import {
  closeAfterEach,
  endpoint,
  freePort,
  nextSocketEvent,
  removeIpcDir,
  startBus,
} from '../support/bus.js';
import { rawSubscriber } from '../support/peers.js';
import { Recorder } from '../support/recorder.js';

@Controller()
class TickController {
  constructor(private readonly recorder: Recorder) {}

  @EventPattern<string>('tick')
  onTick(@Payload() [n]: string[]) {
    this.recorder.record('tick', n);
  }
}

@Controller()
class RequestController {
  @MessagePattern('sum')
  sum(@Payload() values: number[]) {
    return values.reduce((a, b) => a + b, 0);
  }
}

const { closers, bus } = closeAfterEach();
afterAll(removeIpcDir);

describe('startup errors', () => {
  it.each([
    ['an unparseable address', 'localhost:5555', /Invalid ZMQ_ADDRESS_PUB \(pubAddress\) = "localhost:5555"/],
    ['an unsupported scheme', 'pgm://eth0;239.192.1.1:5555', /ZMQ_ADDRESS_PUB .*unsupported scheme "pgm"/],
  ])('fail connect() on %s, naming the variable and the value', async (_, address, message) => {
    const client = new ZmqClient({ pubAddress: address });
    await expect(client.connect()).rejects.toThrow(ZmqConfigError);
    await expect(client.connect()).rejects.toThrow(message);
    await expect(bus({ pubAddress: address })).rejects.toThrow(message);
  });

  it('fails connect() when the bind address is already in use', async () => {
    const address = `tcp://127.0.0.1:${await freePort()}`;
    const squatter = new Publisher();
    await squatter.bind(address);
    closers.push(() => squatter.close());
    await expect(bus({ pubAddress: address })).rejects.toThrow(
      `Cannot bind ZMQ_ADDRESS_PUB (pubAddress) to "${address}": Address already in use`,
    );
  });

  it('fails listen() on a bad subscribe address, naming the variable and the value', async () => {
    await expect(
      bus({ subAddresses: 'tcp://127.0.0.1:5555, tcp://nowhere' }, [TickController], [Recorder]),
    ).rejects.toThrow(/Invalid ZMQ_ADDRESS_SUB \(subAddresses\) = "tcp:\/\/nowhere"/);
    const server = new ZmqServer({ subAddresses: 'http://127.0.0.1:80' });
    const error = await new Promise((resolve) => server.listen(resolve));
    expect(String(error)).toMatch(/ZMQ_ADDRESS_SUB .*unsupported scheme "http"/);
  });
});

describe('request-response', () => {
  it('fails listen() at once when a @MessagePattern handler exists', async () => {
    await expect(bus({ subAddresses: await endpoint('inproc') }, [RequestController])).rejects.toThrow(
      REQUEST_RESPONSE_UNSUPPORTED,
    );
  });

  it('fails client.send() at once, without a hang', async () => {
    const { client } = await bus({ pubAddress: await endpoint('inproc') });
    await expect(firstValueFrom(client.send('sum', [1, 2]))).rejects.toThrow(REQUEST_RESPONSE_UNSUPPORTED);
  });
});

describe('status, on() and unwrap()', () => {
  it('throw an actionable error from unwrap() before listen()/connect()', () => {
    expect(() => new ZmqServer().unwrap()).toThrow(
      /call app.listen\(\) \/ app.startAllMicroservices\(\) first/,
    );
    expect(() => new ZmqClient().unwrap()).toThrow(/call connect\(\) first/);
  });

  it('follows the real connect and disconnect events on both sides', async () => {
    const address = await endpoint('tcp');
    const publisher = await bus({ pubAddress: address });
    const clientStatus: string[] = [];
    publisher.client.status.subscribe((status) => clientStatus.push(status));
    const accepted = new Promise((resolve) => publisher.client.on('connect', resolve));
    const subscriber = await startBus({ subAddresses: address }, [TickController], [Recorder]);

    const serverStatus: string[] = [];
    subscriber.server.status.subscribe((status) => serverStatus.push(status));
    const connected = new Promise((resolve) => subscriber.server.on('connect', resolve));
    expect(await connected).toBe(address);
    await accepted;
    expect(subscriber.server.unwrap()).toBe(subscriber.app.get(ZmqServer).unwrap());
    expect(publisher.client.unwrap().lastEndpoint).toBe(address);

    // The publisher goes away: the subscriber sees the disconnect; then the subscriber closes.
    const disconnected = new Promise((resolve) => subscriber.server.on('disconnect', resolve));
    await publisher.close();
    expect(await disconnected).toBe(address);
    await subscriber.close();
    expect(serverStatus).toEqual([ZmqStatus.DISCONNECTED, ZmqStatus.CONNECTED, ZmqStatus.DISCONNECTED]);
    expect(clientStatus).toEqual([ZmqStatus.DISCONNECTED, ZmqStatus.CONNECTED, ZmqStatus.DISCONNECTED]);
  });

  it('counts a peer only once its handshake is done: a bare TCP connection does not flap the status', async () => {
    const address = await endpoint('tcp');
    const { client } = await bus({ pubAddress: address });
    const statuses: string[] = [];
    client.status.subscribe((status) => statuses.push(status));
    const connects: string[] = [];
    client.on('connect', (peer) => connects.push(peer));
    const socket = client.unwrap();

    const accepted = nextSocketEvent(socket, 'accept');
    const dropped = nextSocketEvent(socket, 'disconnect');
    const port = Number(address.split(':').at(-1));
    const bare = createConnection({ host: '127.0.0.1', port }, () => bare.end());
    await accepted;
    await dropped;
    expect(statuses).toEqual([ZmqStatus.DISCONNECTED]);
    expect(connects).toEqual([]);

    const subscriber = rawSubscriber(address, ['tick']);
    closers.push(() => subscriber.close());
    await client.waitForSubscribers('tick');
    await expect.poll(() => statuses).toEqual([ZmqStatus.DISCONNECTED, ZmqStatus.CONNECTED]);
    expect(connects).toEqual([address]);
  });

  it('tells who subscribed, and waits for subscribers with a timeout', async () => {
    const address = await endpoint('ipc');
    const { client } = await bus({ pubAddress: address });
    await expect(client.waitForSubscribers('tick', { timeout: 50 })).rejects.toThrow(
      'Timed out after 50 ms waiting for 1 subscriber(s) of "tick" (saw 0).',
    );
    const prefixes: string[] = [];
    client.on('subscribe', (prefix) => prefixes.push(prefix));
    const peers = [rawSubscriber(address, ['ti']), rawSubscriber(address, ['tick'])];
    closers.push(() => peers.forEach((peer) => peer.close()));
    await client.waitForSubscribers('tick', { count: 2 });
    expect(prefixes.toSorted()).toEqual(['ti', 'tick']);
  });
});

describe('wiring', () => {
  it('works through ClientsModule.register with customClass', async () => {
    const address = await endpoint('inproc');
    @Injectable()
    class Sender {
      constructor(@Inject('BUS') readonly zmq: ZmqClient) {}
    }
    @Module({
      imports: [
        ClientsModule.register([{ name: 'BUS', customClass: ZmqClient, options: { pubAddress: address } }]),
      ],
      providers: [Sender],
    })
    class SenderModule {}
    const moduleRef = await Test.createTestingModule({ imports: [SenderModule] }).compile();
    moduleRef.useLogger(false);
    const app = await moduleRef.init();
    closers.push(() => app.close());
    const sender = app.get(Sender).zmq;
    expect(sender).toBeInstanceOf(ZmqClient);
    const peer = rawSubscriber(address, ['tick']);
    closers.push(() => peer.close());
    await sender.waitForSubscribers('tick');
    await lastValueFrom(sender.emit('tick', ['via ClientsModule']));
    expect((await peer.receive(1))[0]!.map(String)).toEqual(['tick', 'via ClientsModule']);
  });

  it('reads every address from the environment with ZmqModule.forRoot()', async () => {
    const address = await endpoint('ipc');
    process.env.ZMQ_ADDRESS_PUB = address;
    process.env.ZMQ_ADDRESS_SUB = ` ${address} ,`;
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true }), ZmqModule.forRoot()],
        controllers: [TickController],
        providers: [Recorder],
      }).compile();
      moduleRef.useLogger(false);
      const app = moduleRef.createNestMicroservice({ strategy: moduleRef.get(ZmqServer), logger: false });
      await app.listen();
      closers.push(() => app.close());
      const client = app.get(ZmqClient);
      await client.connect();
      expect(client.endpoint).toBe(address);
      await client.waitForSubscribers('tick');
      client.emit('tick', ['from env']);
      expect(await app.get(Recorder).wait('tick', 1)).toEqual(['from env']);
    } finally {
      delete process.env.ZMQ_ADDRESS_PUB;
      delete process.env.ZMQ_ADDRESS_SUB;
    }
  });

  it('takes options from forRootAsync({ imports, inject, useFactory })', async () => {
    const address = await endpoint('inproc');
    const OPTIONS = Symbol('options');
    @Module({ providers: [{ provide: OPTIONS, useValue: { pubAddress: address } }], exports: [OPTIONS] })
    class OptionsModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        ZmqModule.forRootAsync({ imports: [OptionsModule], inject: [OPTIONS], useFactory: (o) => o }),
      ],
    }).compile();
    moduleRef.useLogger(false);
    const app = await moduleRef.init();
    closers.push(() => app.close());
    expect(app.get(ZmqClient).endpoint).toBe(address);
  });
});

describe('shutdown', () => {
  it('flushes pending emits on app.close(), then fails later ones clearly', async () => {
    const address = await endpoint('tcp');
    const { client, app } = await startBus({ pubAddress: address });
    const peer = rawSubscriber(address, ['tick']);
    closers.push(() => peer.close());
    await client.waitForSubscribers('tick');
    for (let i = 0; i < 500; i++) client.emit('tick', [String(i)]);
    await app.close();
    const messages = await peer.receive(500);
    expect(messages.map(([, n]) => String(n))).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
    await expect(lastValueFrom(client.emit('tick', ['late']))).rejects.toThrow(/closed/);
    expect(() => client.unwrap()).toThrow(/not connected/);
  });

  it('is safe to close twice, and before listening or connecting', async () => {
    const { app, server, client } = await startBus({
      pubAddress: await endpoint('inproc'),
      subAddresses: [],
    });
    await app.close();
    await expect(app.close()).resolves.toBeUndefined();
    await expect(server.close()).resolves.toBeUndefined();
    await expect(client.close()).resolves.toBeUndefined();
    expect(() => server.unwrap()).toThrow(/not listening/);
    await expect(new ZmqServer({ subAddresses: 'tcp://127.0.0.1:1' }).close()).resolves.toBeUndefined();
    const neverConnected = new ZmqClient({ pubAddress: 'tcp://127.0.0.1:*' });
    await expect(neverConnected.close()).resolves.toBeUndefined();
    await expect(neverConnected.connect()).rejects.toThrow('ZmqClient is closed.');
    expect(() => neverConnected.unwrap()).toThrow(/not connected/);
  });

  it('closes every socket so that the process exits by itself, after app.close() or SIGTERM', async () => {
    for (const mode of ['close', 'sigterm']) {
      const address = await endpoint('tcp');
      const child = spawn(process.execPath, ['test/fixtures/exit-child.mjs', mode, address], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      closers.push(() => child.exitCode === null && child.kill('SIGKILL'));
      const lines = createInterface({ input: child.stdout! });
      const output: string[] = [];
      const ready = new Promise<void>((resolve) =>
        lines.on('line', (line) => {
          output.push(line);
          if (line.startsWith('ready')) resolve();
        }),
      );
      await ready;
      if (mode === 'sigterm') child.kill('SIGTERM');
      // 'close' rather than 'exit': it comes after the last line of stdout has been read.
      const [code, signal] = await once(child, 'close');
      // With shutdown hooks, Nest closes the app and then re-raises the signal it caught.
      expect({ mode, code, signal, output }).toEqual({
        mode,
        code: mode === 'close' ? 0 : null,
        signal: mode === 'close' ? null : 'SIGTERM',
        output: [`ready ${address}`, 'closed'],
      });
    }
  });
});
