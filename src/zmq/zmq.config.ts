import { ZMQ_DEFAULTS, ZMQ_ENV, ZMQ_SCHEMES } from './zmq.constants.js';
import { curveKeyProblem, curvePublicKeyOf, curveSupported, type ResolvedCurve } from './zmq.curve.js';
import type {
  ZmqBackpressure,
  ZmqCodec,
  ZmqDeserializer,
  ZmqOptions,
  ZmqReceiveAs,
  ZmqSerializer,
} from './zmq.options.js';

/** Misconfiguration: the message names the environment variable, the option and the bad value. */
export class ZmqConfigError extends Error {
  override readonly name = 'ZmqConfigError';
}

type OptionName = keyof typeof ZMQ_ENV;

/** `ZMQ_ADDRESS_PUB (pubAddress)`: how errors and logs name a setting, whichever way it was given. */
export function describeSetting(option: OptionName): string {
  return `${ZMQ_ENV[option]} (${option})`;
}

function invalid(option: OptionName, value: unknown, why: string): ZmqConfigError {
  return new ZmqConfigError(`Invalid ${describeSetting(option)} = ${JSON.stringify(value)}: ${why}`);
}

/** Options with every default applied and every value checked. */
export interface ResolvedZmqOptions {
  pubAddress: string | undefined;
  subAddresses: string[];
  codec: ZmqCodec;
  receiveAs: ZmqReceiveAs;
  serializer: ZmqSerializer | undefined;
  deserializer: ZmqDeserializer | undefined;
  backpressure: ZmqBackpressure;
  sendHighWaterMark: number;
  receiveHighWaterMark: number;
  linger: number;
  maxMessageSize: number;
  reconnectInterval: number;
  sequence: boolean;
  /** Whether any address is an IPv6 literal, which needs `ZMQ_IPV6` on the socket. */
  ipv6: boolean;
  /** CURVE keys, checked; undefined when CURVE is off. */
  curve: ResolvedCurve | undefined;
}

/** Splits a comma-separated address list the way CubicWeb does: trim each entry, drop empty ones. */
export function parseAddressList(value: string | readonly string[] | undefined): string[] {
  const entries = typeof value === 'string' ? value.split(',') : (value ?? []);
  return entries.map((entry) => entry.trim()).filter((entry) => entry.length > 0);
}

const ENDPOINT = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/;
const TCP_LOCATION = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/\s]+):(\d{1,5}|\*)$/;
// sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
const IPC_PATH_MAX = 107;

/**
 * Checks one endpoint before ZeroMQ sees it, so that a typo fails with the setting's name
 * instead of libzmq's bare "Invalid argument".
 */
export function checkEndpoint(option: 'pubAddress' | 'subAddresses', address: string): string {
  const match = ENDPOINT.exec(address);
  if (!match) {
    throw invalid(option, address, 'expected scheme://location, e.g. tcp://127.0.0.1:5555');
  }
  const scheme = match[1]!.toLowerCase();
  const location = match[2]!;
  if (!(ZMQ_SCHEMES as readonly string[]).includes(scheme)) {
    throw invalid(option, address, `unsupported scheme "${scheme}"; use tcp://, ipc:// or inproc://`);
  }
  if (location.length === 0) {
    throw invalid(option, address, `${scheme}:// needs a location after it`);
  }
  if (scheme === 'tcp') {
    const tcp = TCP_LOCATION.exec(location);
    if (!tcp) {
      throw invalid(option, address, 'a tcp address is tcp://host:port, e.g. tcp://127.0.0.1:5555');
    }
    const [, host, port] = tcp;
    if (port === '*' ? option !== 'pubAddress' : Number(port) < 1 || Number(port) > 65535) {
      throw invalid(
        option,
        address,
        port === '*' ? 'only a bind address may use port *' : 'the port must be 1 to 65535',
      );
    }
    if (host === '*' && option !== 'pubAddress') {
      throw invalid(option, address, 'host * can only be bound; connect to a host name or IP');
    }
  }
  if (scheme === 'ipc' && Buffer.byteLength(location) > IPC_PATH_MAX) {
    throw invalid(option, address, `an ipc path is at most ${IPC_PATH_MAX} bytes`);
  }
  return `${scheme}://${location}`;
}

function oneOf<T extends string>(option: OptionName, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw invalid(option, value, `expected one of ${allowed.join(', ')}`);
}

function integer(option: OptionName, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min) return value;
  throw invalid(option, value, `expected a whole number of at least ${min}`);
}

function flag(option: OptionName, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw invalid(option, value, 'expected true or false');
}

/** Applies defaults and checks every option; addresses are checked for syntax here, for use at bind/connect. */
export function resolveZmqOptions(options: ZmqOptions = {}): ResolvedZmqOptions {
  const pubAddress =
    options.pubAddress === undefined || options.pubAddress.trim() === ''
      ? undefined
      : checkEndpoint('pubAddress', options.pubAddress.trim());
  const subAddresses = parseAddressList(options.subAddresses).map((address) =>
    checkEndpoint('subAddresses', address),
  );
  const maxMessageSize = integer('maxMessageSize', options.maxMessageSize, -1, ZMQ_DEFAULTS.maxMessageSize);
  if (maxMessageSize === 0) throw invalid('maxMessageSize', 0, 'use -1 for no limit, or a size in bytes');
  return {
    pubAddress,
    subAddresses,
    codec: oneOf('codec', options.codec, ['frames', 'json'], ZMQ_DEFAULTS.codec),
    receiveAs: oneOf('receiveAs', options.receiveAs, ['string', 'buffer'], ZMQ_DEFAULTS.receiveAs),
    serializer: options.serializer,
    deserializer: options.deserializer,
    backpressure: oneOf('backpressure', options.backpressure, ['drop', 'block'], ZMQ_DEFAULTS.backpressure),
    sendHighWaterMark: integer(
      'sendHighWaterMark',
      options.sendHighWaterMark,
      0,
      ZMQ_DEFAULTS.sendHighWaterMark,
    ),
    receiveHighWaterMark: integer(
      'receiveHighWaterMark',
      options.receiveHighWaterMark,
      0,
      ZMQ_DEFAULTS.receiveHighWaterMark,
    ),
    linger: integer('linger', options.linger, 0, ZMQ_DEFAULTS.linger),
    maxMessageSize,
    reconnectInterval: integer(
      'reconnectInterval',
      options.reconnectInterval,
      1,
      ZMQ_DEFAULTS.reconnectInterval,
    ),
    sequence: flag('sequence', options.sequence, ZMQ_DEFAULTS.sequence),
    ipv6: [pubAddress, ...subAddresses].some((address) => address?.startsWith('tcp://[')),
    curve: resolveCurve(options, subAddresses.length, pubAddress !== undefined),
  };
}

/** Like `invalid()`, but never shows the value: keys must not reach logs. */
function invalidKey(option: OptionName, why: string): ZmqConfigError {
  return new ZmqConfigError(
    `Invalid ${describeSetting(option)}: ${why} (value not shown: keys are never logged).`,
  );
}

function checkKeys(option: OptionName, keys: string[]): void {
  keys.forEach((key, index) => {
    if (key === '*') {
      throw invalidKey(option, '* stands alone: it cannot be listed with keys or, for server keys, at all');
    }
    const problem = curveKeyProblem(key);
    const which = keys.length > 1 ? `key ${index + 1} of ${keys.length}: ` : '';
    if (problem) throw invalidKey(option, which + problem);
  });
}

/** Checks the CURVE settings as a whole: each key, the pair, and the lists against the addresses. */
function resolveCurve(
  options: ZmqOptions,
  subscribes: number,
  publishes: boolean,
): ResolvedCurve | undefined {
  const publicKey = options.curvePublicKey?.trim() || undefined;
  const secretKey = options.curveSecretKey?.trim() || undefined;
  const serverKeys = parseAddressList(options.curveServerKeys);
  const clientKeys = parseAddressList(options.curveClientKeys);
  if (publicKey === undefined && secretKey === undefined) {
    const stray =
      serverKeys.length > 0 ? 'curveServerKeys' : clientKeys.length > 0 ? 'curveClientKeys' : undefined;
    if (stray) {
      throw new ZmqConfigError(
        `${describeSetting(stray)} is set but CURVE is off: also set ${describeSetting('curvePublicKey')} ` +
          `and ${describeSetting('curveSecretKey')}, or the bus runs in plain text.`,
      );
    }
    return undefined;
  }
  if (publicKey === undefined || secretKey === undefined) {
    const [missing, given] =
      publicKey === undefined
        ? (['curvePublicKey', 'curveSecretKey'] as const)
        : (['curveSecretKey', 'curvePublicKey'] as const);
    throw new ZmqConfigError(
      `${describeSetting(missing)} is not set but ${describeSetting(given)} is: CURVE needs this instance's whole key pair.`,
    );
  }
  if (!curveSupported()) {
    throw new ZmqConfigError(
      `${describeSetting('curvePublicKey')} turns CURVE on, but this zeromq build has no CURVE support ` +
        '(zeromq.capability.curve is false).',
    );
  }
  checkKeys('curvePublicKey', [publicKey]);
  checkKeys('curveSecretKey', [secretKey]);
  if (curvePublicKeyOf(secretKey) !== publicKey) {
    throw invalidKey(
      'curvePublicKey',
      `it is not the public key of ${describeSetting('curveSecretKey')}; use both keys of one pair`,
    );
  }
  checkKeys('curveServerKeys', serverKeys);
  if (subscribes > 0 && serverKeys.length === 0) {
    throw new ZmqConfigError(
      `${describeSetting('curveServerKeys')} is not set: with CURVE, the subscriber needs the public key ` +
        `of the publishers in ${describeSetting('subAddresses')}.`,
    );
  }
  if (subscribes > 0 && serverKeys.length !== 1 && serverKeys.length !== subscribes) {
    throw new ZmqConfigError(
      `${describeSetting('curveServerKeys')} has ${serverKeys.length} keys for the ${subscribes} addresses of ` +
        `${describeSetting('subAddresses')}: give one key per address, in the same order, or one key for all.`,
    );
  }
  const admitAnyClient = clientKeys.length === 1 && clientKeys[0] === '*';
  if (!admitAnyClient) checkKeys('curveClientKeys', clientKeys);
  if (publishes && clientKeys.length === 0) {
    throw new ZmqConfigError(
      `${describeSetting('curveClientKeys')} is not set: with CURVE, the publisher admits only the ` +
        'subscriber public keys listed there (or * for any CURVE client).',
    );
  }
  return {
    publicKey,
    secretKey,
    serverKeys: Array.from(
      { length: subscribes },
      (_, index) => serverKeys[serverKeys.length === 1 ? 0 : index]!,
    ),
    clientKeys: new Set(admitAnyClient ? [] : clientKeys),
    admitAnyClient,
  };
}

const NUMERIC_OPTIONS = [
  'sendHighWaterMark',
  'receiveHighWaterMark',
  'linger',
  'maxMessageSize',
  'reconnectInterval',
] as const;
const TEXT_OPTIONS = ['pubAddress', 'subAddresses', 'codec', 'receiveAs', 'backpressure'] as const;
const KEY_OPTIONS = ['curvePublicKey', 'curveSecretKey', 'curveServerKeys', 'curveClientKeys'] as const;

/**
 * Reads `ZmqOptions` from environment variables (see `ZMQ_ENV`); an empty variable counts as unset.
 * `get` defaults to `process.env`; `ZmqModule.forRoot()` passes `ConfigService.get`.
 */
export function zmqOptionsFromEnv(
  get: (name: string) => string | undefined = (name) => process.env[name],
): ZmqOptions {
  const read = (option: OptionName): string | undefined => {
    const value = get(ZMQ_ENV[option]);
    return value === undefined || value === null || String(value).trim() === ''
      ? undefined
      : String(value).trim();
  };
  const options: Record<string, unknown> = {};
  for (const option of TEXT_OPTIONS) {
    const value = read(option);
    if (value !== undefined)
      options[option] = option === 'pubAddress' || option === 'subAddresses' ? value : value.toLowerCase();
  }
  const sequence = read('sequence')?.toLowerCase();
  if (sequence !== undefined) {
    if (!['true', 'false', '1', '0'].includes(sequence)) {
      throw invalid('sequence', sequence, 'expected true or false');
    }
    options.sequence = sequence === 'true' || sequence === '1';
  }
  for (const option of KEY_OPTIONS) {
    const value = read(option);
    if (value !== undefined) options[option] = value;
  }
  for (const option of NUMERIC_OPTIONS) {
    const value = read(option);
    if (value === undefined) continue;
    if (!/^-?\d+$/.test(value)) throw invalid(option, value, 'expected a whole number');
    options[option] = Number(value);
  }
  return options as ZmqOptions;
}
