import { Controller, Injectable, Logger, type LoggerService } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { capability, curveKeyPair, Router, Subscriber } from 'zeromq';
import { ZmqClient, ZmqConfigError, type ZmqOptions, ZmqServer } from '../../src/zmq/index.js';
import { ZAP_ENDPOINT } from '../../src/zmq/zmq.zap.js';
import {
  type Bus,
  endpoint,
  nextSocketEvent,
  removeIpcDir,
  startBus,
  type TransportName,
} from '../support/bus.js';
import { type PeerLine, PythonPeer } from '../support/curve-peer.js';

type KeyPair = { publicKey: string; secretKey: string };

/** Each role of these tests has its own key pair; `allKeys` lists every key, to check none leaks. */
const keys = {
  publisher: curveKeyPair(),
  subscriber: curveKeyPair(),
  stranger: curveKeyPair(),
  rogue: curveKeyPair(),
  python: curveKeyPair(),
};
const allKeys = Object.values(keys).flatMap((pair) => [pair.publicKey, pair.secretKey]);

function curve(pair: KeyPair, more: ZmqOptions = {}): ZmqOptions {
  return { curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey, ...more };
}

/**
 * A mechanism mismatch is seen first by either side; the other may only see the connection
 * drop (`handshake:error:other`, EPIPE). Either is a failed handshake.
 */
const HANDSHAKE_FAILURES = [
  'handshake:error:protocol',
  'handshake:error:other',
  'handshake:error:auth',
] as const;
const failedHandshake = (line: PeerLine): boolean => line.event?.startsWith('HANDSHAKE_FAILED') === true;

function expectNoKeyIn(text: string): void {
  for (const key of allKeys) expect(text).not.toContain(key.slice(0, 10));
}

@Injectable()
class Inbox {
  readonly messages: string[][] = [];
  private readonly waiters = new Set<() => void>();

  push(parts: string[]): void {
    this.messages.push(parts);
    for (const check of this.waiters) check();
  }

  /** Resolves once a message whose first part is `first` has arrived. */
  waitFor(first: string, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.messages.some(([part]) => part === first)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no "${first}" within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

@Controller()
class NewsController {
  constructor(private readonly inbox: Inbox) {}

  @EventPattern('news')
  onNews(@Payload() parts: string[]): void {
    this.inbox.push(parts);
  }
}

const buses: Bus[] = [];
const peers: PythonPeer[] = [];

async function start(options: ZmqOptions): Promise<Bus> {
  const bus = await startBus(options, [NewsController], [Inbox]);
  buses.push(bus);
  return bus;
}

function inboxOf(bus: Bus): Inbox {
  return bus.get(Inbox);
}

async function publish(bus: Bus, parts: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    bus.client.emit('news', parts).subscribe({ complete: resolve, error: reject }),
  );
}

/** Publishes `parts` once a subscriber of "news" is in, and waits for `receiver` to get them. */
async function deliver(publisher: Bus, receiver: Bus, parts: string[]): Promise<void> {
  await publisher.client.waitForSubscribers('news');
  await publish(publisher, parts);
  await inboxOf(receiver).waitFor(parts[0]!);
}

function peer(...args: ConstructorParameters<typeof PythonPeer>): PythonPeer {
  const child = new PythonPeer(...args);
  peers.push(child);
  return child;
}

/** Binds a Router at the ZAP endpoint and releases it again; rejects while the endpoint is taken. */
async function bindZap(): Promise<void> {
  const router = new Router({ linger: 0 });
  try {
    await router.bind(ZAP_ENDPOINT);
    // close() alone frees an inproc endpoint only later, in libzmq's reaper thread.
    await router.unbind(ZAP_ENDPOINT);
  } finally {
    router.close();
  }
}

async function listenError(options: ZmqOptions): Promise<Error> {
  const server = new ZmqServer(options);
  try {
    return await new Promise<Error>((resolve, reject) =>
      server.listen((error) => (error ? resolve(error as Error) : reject(new Error('listen() succeeded')))),
    );
  } finally {
    await server.close();
  }
}

async function connectError(options: ZmqOptions): Promise<Error> {
  const client = new ZmqClient(options);
  try {
    await client.connect();
  } catch (error) {
    return error as Error;
  } finally {
    await client.close();
  }
  throw new Error('connect() succeeded');
}

afterEach(async () => {
  for (const child of peers.splice(0)) child.kill();
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});
afterAll(() => removeIpcDir());

describe.each<TransportName>(['tcp', 'ipc'])('CURVE over %s', (transport) => {
  it('delivers to an admitted subscriber and nothing to one whose key is not admitted', async () => {
    const address = await endpoint(transport);
    const publisher = await start(
      curve(keys.publisher, { pubAddress: address, curveClientKeys: keys.subscriber.publicKey }),
    );
    const refused = nextSocketEvent(publisher.client.unwrap(), 'handshake:error:auth');
    const stranger = await start(
      curve(keys.stranger, { subAddresses: address, curveServerKeys: keys.publisher.publicKey }),
    );
    expect((await refused).error.status).toBe(400);

    const admitted = await start(
      curve(keys.subscriber, { subAddresses: address, curveServerKeys: keys.publisher.publicKey }),
    );
    await deliver(publisher, admitted, ['after the refusal']);
    expect(inboxOf(admitted).messages).toEqual([['after the refusal']]);
    expect(inboxOf(stranger).messages).toEqual([]);
  });

  it('takes nothing from a publisher that lacks the trusted secret key', async () => {
    const trusted = await endpoint(transport);
    const rogue = await endpoint(transport);
    const publisher = await start(
      curve(keys.publisher, { pubAddress: trusted, curveClientKeys: keys.subscriber.publicKey }),
    );
    // The rogue admits any client: only the subscriber's check of the server key can stop it.
    const impostor = await start(curve(keys.rogue, { pubAddress: rogue, curveClientKeys: '*' }));
    const failed = nextSocketEvent(impostor.client.unwrap(), 'handshake:error:protocol');
    const subscriber = await start(
      curve(keys.subscriber, {
        subAddresses: [trusted, rogue],
        curveServerKeys: keys.publisher.publicKey,
      }),
    );
    expect((await failed).error.code).toBe('ERR_ZMTP_CRYPTOGRAPHIC');

    await publish(impostor, ['injected']);
    await deliver(publisher, subscriber, ['trusted']);
    expect(inboxOf(subscriber).messages).toEqual([['trusted']]);
    expect(impostor.client.getStats().sent).toBe(1);
  });

  it('keeps plain-text Node peers out in both directions', async () => {
    const secure = await endpoint(transport);
    const plain = await endpoint(transport);
    const publisher = await start(
      curve(keys.publisher, { pubAddress: secure, curveClientKeys: keys.subscriber.publicKey }),
    );
    const plainPublisher = await start({ pubAddress: plain });
    const mismatch = nextSocketEvent(publisher.client.unwrap(), HANDSHAKE_FAILURES);
    const plainMismatch = nextSocketEvent(plainPublisher.client.unwrap(), HANDSHAKE_FAILURES);

    const plainSubscriber = await start({ subAddresses: [secure, plain] });
    const secureSubscriber = await start(
      curve(keys.subscriber, { subAddresses: [secure, plain], curveServerKeys: keys.publisher.publicKey }),
    );
    await Promise.all([mismatch, plainMismatch]);

    await deliver(publisher, secureSubscriber, ['encrypted']);
    await deliver(plainPublisher, plainSubscriber, ['plain']);
    expect(inboxOf(secureSubscriber).messages).toEqual([['encrypted']]);
    expect(inboxOf(plainSubscriber).messages).toEqual([['plain']]);
  });
});

describe('CURVE across a mesh', () => {
  it('connects three instances, each trusting one server key per address, hearing itself too', async () => {
    const pairs = [curveKeyPair(), curveKeyPair(), curveKeyPair()];
    const addresses = [await endpoint('tcp'), await endpoint('ipc'), await endpoint('tcp')];
    const publicKeys = pairs.map((pair) => pair.publicKey).join(',');
    const instances: Bus[] = [];
    for (const [index, pair] of pairs.entries()) {
      instances.push(
        await start(
          curve(pair, {
            pubAddress: addresses[index],
            subAddresses: addresses.join(','),
            curveServerKeys: publicKeys,
            curveClientKeys: publicKeys,
          }),
        ),
      );
    }
    for (const [index, instance] of instances.entries()) {
      await instance.client.waitForSubscribers('news', { count: 3 });
      await publish(instance, [`from ${index}`]);
    }
    for (const instance of instances) {
      await Promise.all(['from 0', 'from 1', 'from 2'].map((first) => inboxOf(instance).waitFor(first)));
      expect(
        inboxOf(instance)
          .messages.map(([first]) => first)
          .toSorted(),
      ).toEqual(['from 0', 'from 1', 'from 2']);
    }
  });
});

describe('the ZAP handler', () => {
  it('is shared by the publishers of a process, each with its own list, and serves again after them', async () => {
    const first = await endpoint('tcp');
    const second = await endpoint('tcp');
    const one = await start(
      curve(keys.publisher, { pubAddress: first, curveClientKeys: keys.subscriber.publicKey }),
    );
    const two = await start(
      curve(keys.rogue, { pubAddress: second, curveClientKeys: keys.stranger.publicKey }),
    );
    await expect(bindZap()).rejects.toThrow(/in use/i);

    // Each publisher keeps its own list: the second refuses the subscriber the first admits.
    const refused = nextSocketEvent(two.client.unwrap(), 'handshake:error:auth');
    const subscriber = await start(
      curve(keys.subscriber, {
        subAddresses: [first, second],
        curveServerKeys: [keys.publisher.publicKey, keys.rogue.publicKey],
      }),
    );
    await refused;
    await deliver(one, subscriber, ['from one']);

    await one.close();
    buses.splice(buses.indexOf(one), 1);
    await expect(bindZap()).rejects.toThrow(/in use/i);
    const stranger = await start(
      curve(keys.stranger, { subAddresses: second, curveServerKeys: keys.rogue.publicKey }),
    );
    await deliver(two, stranger, ['from two']);
    expect(inboxOf(subscriber).messages).toEqual([['from one']]);

    await two.close();
    buses.splice(buses.indexOf(two), 1);
    // Deliberately left bound (closing it can abort libzmq): a new publisher uses it again.
    await expect(bindZap()).rejects.toThrow(/in use/i);
    const three = await start(
      curve(keys.publisher, { pubAddress: first, curveClientKeys: keys.subscriber.publicKey }),
    );
    const refusedAgain = nextSocketEvent(three.client.unwrap(), 'handshake:error:auth');
    await start(curve(keys.stranger, { subAddresses: first, curveServerKeys: keys.publisher.publicKey }));
    await refusedAgain;
    await deliver(three, subscriber, ['from three']);
    expect(inboxOf(subscriber).messages).toEqual([['from one'], ['from three']]);
  });
});

describe('CURVE refusal', () => {
  it('lets a refused subscriber in once its publisher restarts admitting its key', async () => {
    const address = await endpoint('tcp');
    const strict = await start(
      curve(keys.publisher, { pubAddress: address, curveClientKeys: keys.stranger.publicKey }),
    );
    const refused = nextSocketEvent(strict.client.unwrap(), 'handshake:error:auth');
    const subscriber = await start(
      curve(keys.subscriber, { subAddresses: address, curveServerKeys: keys.publisher.publicKey }),
    );
    await refused;
    await strict.close();
    buses.splice(buses.indexOf(strict), 1);

    // libzmq gives up on a refused connection; the server connects again by itself.
    const admitting = await start(
      curve(keys.publisher, { pubAddress: address, curveClientKeys: keys.subscriber.publicKey }),
    );
    await deliver(admitting, subscriber, ['admitted at last']);
    expect(inboxOf(subscriber).messages).toEqual([['admitted at last']]);
  });
});

describe('CURVE shutdown', () => {
  it('closes publishers with connected subscribers and opens new ones, round after round', async () => {
    // Each round stops and restarts the ZAP handler's receiving, and closes a publisher whose
    // sessions hold ZAP pipes: closing the handler then has aborted libzmq.
    for (let round = 0; round < 40; round++) {
      const address = await endpoint(round % 2 ? 'ipc' : 'tcp');
      const publisher = await start(
        curve(keys.publisher, { pubAddress: address, curveClientKeys: keys.subscriber.publicKey }),
      );
      for (let i = 0; i < 6; i++) {
        await start(
          curve(keys.subscriber, { subAddresses: address, curveServerKeys: keys.publisher.publicKey }),
        );
      }
      await publisher.client.waitForSubscribers('news', { count: 6 });
      await publish(publisher, [`round ${round}`]);
      expect(publisher.client.getStats()).toEqual({ sent: 1, failed: 0 });
      await Promise.all(buses.splice(0).map((bus) => bus.close()));
    }
  });
});

describe('CURVE with pyzmq peers', () => {
  it('runs a pyzmq that can do CURVE', async () => {
    const probe = peer('sub', await endpoint('tcp'));
    expect(await probe.waitFor((line) => line.ready !== undefined, 'ready line')).toMatchObject({
      curve: true,
    });
  });

  it('delivers to an admitted pyzmq subscriber, and nothing to an unadmitted or plain-text one', async () => {
    const address = await endpoint('tcp');
    const publisher = await start(
      curve(keys.publisher, {
        pubAddress: address,
        curveClientKeys: [keys.subscriber.publicKey, keys.python.publicKey],
      }),
    );
    const server = publisher.client.unwrap();
    const refused = nextSocketEvent(server, 'handshake:error:auth');
    const stranger = peer('sub', address, { ...keys.stranger, serverKey: keys.publisher.publicKey });
    await stranger.waitFor((line) => line.event === 'HANDSHAKE_FAILED_AUTH', 'auth failure');
    await refused;

    const mismatch = nextSocketEvent(server, HANDSHAKE_FAILURES);
    const plain = peer('sub', address);
    await plain.waitFor(failedHandshake, 'handshake failure');
    await mismatch;

    const admitted = peer('sub', address, { ...keys.python, serverKey: keys.publisher.publicKey });
    await admitted.waitFor((line) => line.event === 'HANDSHAKE_SUCCEEDED', 'handshake');
    await publisher.client.waitForSubscribers('news');
    await publish(publisher, ['for pyzmq']);
    await admitted.waitFor((line) => line.message !== undefined, 'message');

    await Promise.all([stranger.stop(), plain.stop(), admitted.stop()]);
    expect(admitted.messages).toEqual([['news', 'for pyzmq']]);
    expect(stranger.messages).toEqual([]);
    expect(plain.messages).toEqual([]);
  });

  it('takes nothing from a pyzmq publisher without the trusted secret key, CURVE or plain', async () => {
    const trusted = await endpoint('tcp');
    const rogueAddress = await endpoint('tcp');
    const plainAddress = await endpoint('tcp');
    // Both publish ["news", "pyzmq"] every 20 ms for as long as the test runs.
    const rogue = peer('pub', rogueAddress, { secretKey: keys.rogue.secretKey });
    const plain = peer('pub', plainAddress);
    await Promise.all([rogue, plain].map((child) => child.waitFor((line) => !!line.ready, 'ready line')));
    const publisher = await start(
      curve(keys.publisher, { pubAddress: trusted, curveClientKeys: keys.subscriber.publicKey }),
    );
    const subscriber = await start(
      curve(keys.subscriber, {
        subAddresses: [trusted, rogueAddress, plainAddress],
        curveServerKeys: keys.publisher.publicKey,
      }),
    );
    await rogue.waitFor((line) => line.event === 'HANDSHAKE_FAILED_PROTOCOL', 'protocol failure');
    await plain.waitFor(failedHandshake, 'handshake failure');

    // The same pyzmq publisher does reach a subscriber that trusts its key.
    const control = await start(
      curve(keys.subscriber, { subAddresses: rogueAddress, curveServerKeys: keys.rogue.publicKey }),
    );
    await inboxOf(control).waitFor('pyzmq');
    await deliver(publisher, subscriber, ['trusted']);
    expect(inboxOf(subscriber).messages).toEqual([['trusted']]);
  });
});

describe('CURVE misconfiguration', () => {
  const pubAddress = 'tcp://127.0.0.1:1';
  const subAddresses = 'tcp://127.0.0.1:2,tcp://127.0.0.1:3';
  const good = curve(keys.publisher, {
    curveServerKeys: keys.rogue.publicKey,
    curveClientKeys: keys.subscriber.publicKey,
  });

  const cases: [string, ZmqOptions, string][] = [
    [
      'a public key one character short',
      { ...good, curvePublicKey: keys.publisher.publicKey.slice(1) },
      'ZMQ_CURVE_PUBLIC_KEY',
    ],
    [
      'a secret key that is not Z85',
      { ...good, curveSecretKey: `~${keys.publisher.secretKey.slice(1)}` },
      'ZMQ_CURVE_SECRET_KEY',
    ],
    ['a secret key without its public key', { ...good, curvePublicKey: undefined }, 'ZMQ_CURVE_PUBLIC_KEY'],
    ['a public key without its secret key', { ...good, curveSecretKey: undefined }, 'ZMQ_CURVE_SECRET_KEY'],
    ['keys of two pairs', { ...good, curveSecretKey: keys.rogue.secretKey }, 'ZMQ_CURVE_PUBLIC_KEY'],
    [
      'a bad server key',
      { ...good, curveServerKeys: keys.rogue.publicKey.slice(3) },
      'ZMQ_CURVE_SERVER_KEYS',
    ],
    [
      'three server keys for two addresses',
      { ...good, curveServerKeys: [keys.rogue.publicKey, keys.stranger.publicKey, keys.python.publicKey] },
      'ZMQ_CURVE_SERVER_KEYS',
    ],
    [
      'a bad client key',
      { ...good, curveClientKeys: `${keys.subscriber.publicKey}=` },
      'ZMQ_CURVE_CLIENT_KEYS',
    ],
  ];

  it.each(cases)(
    'fails listen() and connect() on %s, naming the variable, not the key',
    async (_, options, variable) => {
      for (const error of [
        await listenError({ ...options, pubAddress, subAddresses }),
        await connectError({ ...options, pubAddress, subAddresses }),
      ]) {
        expect(error).toBeInstanceOf(ZmqConfigError);
        expect(error.message).toContain(variable);
        expectNoKeyIn(error.message);
      }
    },
  );

  it('fails to start a Nest app whose publisher lacks ZMQ_CURVE_CLIENT_KEYS', async () => {
    const error = await startBus({
      ...good,
      curveClientKeys: undefined,
      pubAddress: await endpoint('tcp'),
    }).then(
      () => new Error('the app started'),
      (thrown: Error) => thrown,
    );
    expect(error).toBeInstanceOf(ZmqConfigError);
    expect(error.message).toMatch(/ZMQ_CURVE_CLIENT_KEYS .* is not set/);
  });

  it('fails when CURVE is asked for but zeromq has no CURVE support', async () => {
    const built = capability.curve;
    capability.curve = false;
    try {
      const errors = [
        await listenError({ ...good, subAddresses }),
        await connectError({ ...good, pubAddress }),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(ZmqConfigError);
        expect(error.message).toMatch(/ZMQ_CURVE_PUBLIC_KEY .* no CURVE support/);
      }
    } finally {
      capability.curve = built;
    }
  });
});

describe('CURVE logging', () => {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const write = (...args: unknown[]): void => {
    lines.push(args.join(' '));
    for (const check of waiters) check();
  };
  const capture: LoggerService = { log: write, warn: write, error: write, debug: write, verbose: write };
  const logged = (pattern: RegExp, timeoutMs = 15_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!lines.some((line) => pattern.test(line))) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`nothing logged like ${pattern} within ${timeoutMs} ms: ${lines.join(' | ')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  let client: ZmqClient | undefined;
  let server: ZmqServer | undefined;
  let raw: Subscriber | undefined;
  afterEach(async () => {
    raw?.close();
    await server?.close();
    await client?.close();
    Logger.overrideLogger(false);
  });

  it('says why a peer was refused, and never writes a key', async () => {
    Logger.overrideLogger(capture);
    client = new ZmqClient(
      curve(keys.publisher, {
        pubAddress: await endpoint('tcp'),
        curveClientKeys: keys.subscriber.publicKey,
      }),
    );
    await client.connect();
    const address = client.endpoint!;
    const refused = nextSocketEvent(client.unwrap(), 'handshake:error:auth');
    server = new ZmqServer(
      curve(keys.stranger, { subAddresses: address, curveServerKeys: keys.publisher.publicKey }),
    );
    await new Promise<void>((resolve, reject) =>
      server!.listen((error) => (error ? reject(error) : resolve())),
    );
    await refused;
    const failed = nextSocketEvent(client.unwrap(), 'handshake:error:protocol');
    raw = new Subscriber({
      curvePublicKey: keys.subscriber.publicKey,
      curveSecretKey: keys.subscriber.secretKey,
      curveServerKey: keys.rogue.publicKey,
      linger: 0,
    });
    raw.connect(address);
    await failed;
    await logged(/The publisher at tcp:\/\/127\.0\.0\.1:\d+ refused this subscriber/);

    const text = lines.join('\n');
    expect(text).toMatch(
      /Refused a subscriber from 127\.0\.0\.1: its public key is not in ZMQ_CURVE_CLIENT_KEYS/,
    );
    expect(text).toMatch(/failed the CURVE handshake \(ERR_ZMTP_CRYPTOGRAPHIC\)/);
    expectNoKeyIn(text);
  });
});
