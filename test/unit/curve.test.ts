import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { capability, curveKeyPair } from 'zeromq';
import { formatKeyPair, generateKeyPair } from '../../src/keys.js';
import {
  resolveZmqOptions,
  ZMQ_ENV,
  ZmqConfigError,
  type ZmqOptions,
  zmqOptionsFromEnv,
} from '../../src/zmq/index.js';
import { curveKeyProblem, curvePublicKeyOf, z85Decode, z85Encode } from '../../src/zmq/zmq.curve.js';

const me = curveKeyPair();
const peer = curveKeyPair();
const other = curveKeyPair();
const secrets = [me, peer, other].flatMap((pair) => [pair.publicKey, pair.secretKey]);

/** The error resolveZmqOptions throws, checked to name `variable` and to show no key at all. */
function configError(options: ZmqOptions, variable: string): string {
  let thrown: unknown;
  try {
    resolveZmqOptions(options);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ZmqConfigError);
  const message = (thrown as Error).message;
  expect(message).toContain(variable);
  const given = Object.entries(options).flatMap(([name, value]) =>
    name.startsWith('curve') && typeof value === 'string' ? value.split(',') : [],
  );
  const shown = [...secrets, ...given]
    .map((value) => value.trim())
    .filter((value) => value.length >= 8 && message.includes(value.slice(0, 8)));
  expect(shown).toEqual([]);
  return message;
}

describe('Z85', () => {
  it('matches the test vector of RFC 32', () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(bytes);
  });

  it('round-trips keys made by libzmq', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey, secretKey } = curveKeyPair();
      expect(z85Encode(z85Decode(publicKey)!)).toBe(publicKey);
      expect(z85Encode(z85Decode(secretKey)!)).toBe(secretKey);
    }
  });

  it('rejects characters outside the alphabet and groups above 32 bits', () => {
    expect(z85Decode('Hello World')).toBeUndefined();
    expect(z85Decode('Hello,orld')).toBeUndefined();
    expect(z85Decode('#####')).toBeUndefined();
    expect(z85Decode('%nSc0')).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(z85Decode('%nSc1')).toBeUndefined();
  });
});

describe('curveKeyProblem', () => {
  it('accepts keys made by libzmq', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey, secretKey } = curveKeyPair();
      expect(curveKeyProblem(publicKey)).toBeUndefined();
      expect(curveKeyProblem(secretKey)).toBeUndefined();
    }
  });

  it.each([
    ['one character short', me.publicKey.slice(1), /expected 40 characters of Z85, got 39/],
    ['quoted', `'${me.publicKey}'`, /got 42/],
    ['cut at a comment', me.publicKey.slice(0, 12), /got 12/],
    ['with a space', `${me.publicKey.slice(0, 10)} ${me.publicKey.slice(11)}`, /character 11 is not in/],
    ['with a comma', `,${me.publicKey.slice(1)}`, /character 1 is not in/],
    ['out of range', `#####${me.publicKey.slice(5)}`, /out of range/],
  ])('rejects a key %s, without showing it', (_, key, why) => {
    const problem = curveKeyProblem(key);
    expect(problem).toMatch(why);
    expect(problem).not.toContain(key.slice(0, 8));
  });

  it('rejects what is not a string', () => {
    expect(curveKeyProblem(42)).toBe('expected a string, got number');
    expect(curveKeyProblem(null)).toBe('expected a string, got null');
  });
});

describe('curvePublicKeyOf', () => {
  it('derives the public key libzmq pairs with each secret key', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey, secretKey } = curveKeyPair();
      expect(curvePublicKeyOf(secretKey)).toBe(publicKey);
    }
  });
});

describe('resolveZmqOptions with CURVE', () => {
  const pubAddress = 'tcp://127.0.0.1:5555';
  const subAddresses = 'tcp://127.0.0.1:5556, tcp://127.0.0.1:5557';
  const keys = { curvePublicKey: me.publicKey, curveSecretKey: me.secretKey };
  const complete: ZmqOptions = {
    pubAddress,
    subAddresses,
    ...keys,
    curveServerKeys: `${peer.publicKey}, ${other.publicKey}`,
    curveClientKeys: `${peer.publicKey},${other.publicKey}`,
  };

  it('is off without keys', () => {
    expect(resolveZmqOptions({ pubAddress, subAddresses }).curve).toBeUndefined();
  });

  it('gives each address its own server key, in order, and admits the listed clients', () => {
    const curve = resolveZmqOptions(complete).curve!;
    expect(curve.publicKey).toBe(me.publicKey);
    expect(curve.secretKey).toBe(me.secretKey);
    expect(curve.serverKeys).toEqual([peer.publicKey, other.publicKey]);
    expect([...curve.clientKeys]).toEqual([peer.publicKey, other.publicKey]);
    expect(curve.admitAnyClient).toBe(false);
  });

  it('uses a single server key for every address', () => {
    const curve = resolveZmqOptions({ ...complete, curveServerKeys: peer.publicKey }).curve!;
    expect(curve.serverKeys).toEqual([peer.publicKey, peer.publicKey]);
  });

  it('takes lists as arrays too', () => {
    const curve = resolveZmqOptions({
      ...complete,
      subAddresses: ['tcp://127.0.0.1:5556'],
      curveServerKeys: [peer.publicKey],
      curveClientKeys: [other.publicKey],
    }).curve!;
    expect(curve.serverKeys).toEqual([peer.publicKey]);
    expect([...curve.clientKeys]).toEqual([other.publicKey]);
  });

  it('admits any CURVE client with *', () => {
    const curve = resolveZmqOptions({ ...complete, curveClientKeys: '*' }).curve!;
    expect(curve.admitAnyClient).toBe(true);
    expect(curve.clientKeys.size).toBe(0);
  });

  it('needs no server keys without subAddresses, and no client keys without pubAddress', () => {
    expect(resolveZmqOptions({ pubAddress, ...keys, curveClientKeys: '*' }).curve!.serverKeys).toEqual([]);
    expect(resolveZmqOptions({ subAddresses, ...keys, curveServerKeys: peer.publicKey }).curve).toBeDefined();
  });

  it.each<[string, ZmqOptions, string, RegExp]>([
    [
      'a public key alone',
      { pubAddress, curvePublicKey: me.publicKey },
      'ZMQ_CURVE_SECRET_KEY',
      /is not set/,
    ],
    [
      'a secret key alone',
      { pubAddress, curveSecretKey: me.secretKey },
      'ZMQ_CURVE_PUBLIC_KEY',
      /is not set/,
    ],
    [
      'server keys without a key pair',
      { subAddresses, curveServerKeys: peer.publicKey },
      'ZMQ_CURVE_SERVER_KEYS',
      /CURVE is off/,
    ],
    [
      'client keys without a key pair',
      { pubAddress, curveClientKeys: '*' },
      'ZMQ_CURVE_CLIENT_KEYS',
      /CURVE is off/,
    ],
    [
      'a short public key',
      { ...complete, curvePublicKey: me.publicKey.slice(0, 39) },
      'ZMQ_CURVE_PUBLIC_KEY',
      /got 39/,
    ],
    [
      'a secret key with a character outside Z85',
      { ...complete, curveSecretKey: `"${me.secretKey.slice(1)}` },
      'ZMQ_CURVE_SECRET_KEY',
      /character 1/,
    ],
    [
      'keys of two different pairs',
      { ...complete, curveSecretKey: other.secretKey },
      'ZMQ_CURVE_PUBLIC_KEY',
      /not the public key of ZMQ_CURVE_SECRET_KEY/,
    ],
    [
      'public and secret keys swapped',
      { ...complete, curvePublicKey: me.secretKey, curveSecretKey: me.publicKey },
      'ZMQ_CURVE_PUBLIC_KEY',
      /not the public key/,
    ],
    [
      'a bad server key',
      { ...complete, curveServerKeys: `${peer.publicKey},${other.publicKey}x` },
      'ZMQ_CURVE_SERVER_KEYS',
      /key 2 of 2: expected 40 characters/,
    ],
    [
      'three server keys for two addresses',
      { ...complete, curveServerKeys: [peer.publicKey, other.publicKey, me.publicKey] },
      'ZMQ_CURVE_SERVER_KEYS',
      /3 keys for the 2 addresses of ZMQ_ADDRESS_SUB/,
    ],
    [
      'no server key for the addresses',
      { ...complete, curveServerKeys: undefined },
      'ZMQ_CURVE_SERVER_KEYS',
      /is not set/,
    ],
    ['a server key *', { ...complete, curveServerKeys: '*' }, 'ZMQ_CURVE_SERVER_KEYS', /\* stands alone/],
    [
      'a bad client key',
      { ...complete, curveClientKeys: `${peer.secretKey.slice(0, 30)}` },
      'ZMQ_CURVE_CLIENT_KEYS',
      /got 30/,
    ],
    [
      '* among client keys',
      { ...complete, curveClientKeys: `*,${peer.publicKey}` },
      'ZMQ_CURVE_CLIENT_KEYS',
      /\* stands alone/,
    ],
    [
      'no client key for the publisher',
      { ...complete, curveClientKeys: ' , ' },
      'ZMQ_CURVE_CLIENT_KEYS',
      /is not set/,
    ],
  ])('fails on %s, naming the variable and not the key', (_, options, variable, why) => {
    expect(configError(options, variable)).toMatch(why);
  });

  it('fails when zeromq was built without CURVE', () => {
    const built = capability.curve;
    capability.curve = false;
    try {
      expect(configError(complete, 'ZMQ_CURVE_PUBLIC_KEY')).toMatch(/no CURVE support/);
    } finally {
      capability.curve = built;
    }
  });
});

describe('CURVE keys from the environment', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const name of Object.values(ZMQ_ENV)) delete process.env[name];
  });

  it('reads the four variables verbatim (keys are case-sensitive)', () => {
    const env: Record<string, string> = {
      ZMQ_CURVE_PUBLIC_KEY: ` ${me.publicKey} `,
      ZMQ_CURVE_SECRET_KEY: me.secretKey,
      ZMQ_CURVE_SERVER_KEYS: `${peer.publicKey},${other.publicKey}`,
      ZMQ_CURVE_CLIENT_KEYS: '*',
    };
    expect(zmqOptionsFromEnv((name) => env[name])).toEqual({
      curvePublicKey: me.publicKey,
      curveSecretKey: me.secretKey,
      curveServerKeys: `${peer.publicKey},${other.publicKey}`,
      curveClientKeys: '*',
    });
  });

  it('generates pairs without $, which dotenv-expand and Compose would expand', () => {
    const withDollar = { publicKey: `$${'a'.repeat(39)}`, secretKey: 'b'.repeat(40) };
    const dollarInSecret = { publicKey: 'a'.repeat(40), secretKey: `${'b'.repeat(39)}$` };
    const plain = { publicKey: 'a'.repeat(40), secretKey: 'b'.repeat(40) };
    const draws = [withDollar, dollarInSecret, plain];
    expect(generateKeyPair(() => draws.shift()!)).toBe(plain);
    expect(() => generateKeyPair(() => withDollar)).toThrow(/1000 attempts/);
  });

  it('prints a pair that ConfigModule reads back from a .env file and the bus accepts', async () => {
    // A key with #, which starts a comment in an unquoted .env value.
    let pair = generateKeyPair();
    for (let i = 0; i < 1000 && !pair.publicKey.includes('#') && !pair.secretKey.includes('#'); i++) {
      pair = generateKeyPair();
    }
    expect(`${pair.publicKey}${pair.secretKey}`).toContain('#');
    dir = mkdtempSync(join(tmpdir(), 'zmq-keys-'));
    const envFile = join(dir, '.env');
    writeFileSync(envFile, `${formatKeyPair(pair)}ZMQ_CURVE_CLIENT_KEYS='${pair.publicKey}'\n`);
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot({ envFilePath: envFile })],
    }).compile();
    const config = moduleRef.get(ConfigService);
    const options = zmqOptionsFromEnv((name) => config.get<string>(name));
    await moduleRef.close();
    expect(options).toEqual({
      curvePublicKey: pair.publicKey,
      curveSecretKey: pair.secretKey,
      curveClientKeys: pair.publicKey,
    });
    expect(resolveZmqOptions({ ...options, pubAddress: 'tcp://127.0.0.1:5555' }).curve?.publicKey).toBe(
      pair.publicKey,
    );
  });
});
