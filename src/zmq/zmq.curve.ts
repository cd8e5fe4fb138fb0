import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { capability, type Socket, type Subscriber, type XPublisher } from 'zeromq';
import { REJECTION_LOG_INTERVAL_MS } from './zmq.constants.js';
import { ThrottledLog } from './zmq.log-throttle.js';
import { acquireZapHandler, type ZapLease } from './zmq.zap.js';

/** Length of a CURVE key in Z85 text: 32 bytes, 5 characters per 4 bytes. */
export const CURVE_KEY_LENGTH = 40;

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_VALUES = new Map([...Z85_ALPHABET].map((char, index) => [char, index]));
// An X25519 private key in PKCS #8 DER is this header followed by the 32 raw bytes.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** CURVE settings with every key checked; see `ZmqOptions.curvePublicKey` and the variables after it. */
export interface ResolvedCurve {
  publicKey: string;
  secretKey: string;
  /** The trusted publisher key for each entry of `subAddresses`, in the same order. */
  serverKeys: string[];
  /** Subscribers the publisher admits, as Z85 public keys. */
  clientKeys: ReadonlySet<string>;
  /** `ZMQ_CURVE_CLIENT_KEYS=*`: any CURVE client that knows this publisher's public key is admitted. */
  admitAnyClient: boolean;
}

/** Whether this zeromq build can do CURVE (`zeromq.capability.curve`), read when options are resolved. */
export function curveSupported(): boolean {
  return capability.curve === true;
}

/** Decodes Z85 text (RFC 32); undefined when it is not valid Z85. */
export function z85Decode(text: string): Buffer | undefined {
  if (text.length % 5 !== 0) return undefined;
  const bytes = Buffer.alloc((text.length / 5) * 4);
  for (let group = 0; group < text.length / 5; group++) {
    let value = 0;
    for (const char of text.slice(group * 5, group * 5 + 5)) {
      const digit = Z85_VALUES.get(char);
      if (digit === undefined) return undefined;
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) return undefined;
    bytes.writeUInt32BE(value, group * 4);
  }
  return bytes;
}

/** Encodes bytes (a multiple of 4) as Z85 text (RFC 32). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError('Z85 encodes a multiple of 4 bytes.');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = '';
  for (let offset = 0; offset < bytes.length; offset += 4) {
    let value = view.getUint32(offset);
    const group: string[] = [];
    for (let digit = 0; digit < 5; digit++) {
      group.unshift(Z85_ALPHABET[value % 85]!);
      value = Math.floor(value / 85);
    }
    text += group.join('');
  }
  return text;
}

/**
 * What is wrong with a CURVE key, or undefined when it is a well-formed Z85 key. The answer never
 * contains the key or any character of it, so it can go into an error message or a log.
 */
export function curveKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return `expected a string, got ${key === null ? 'null' : typeof key}`;
  if (key.length !== CURVE_KEY_LENGTH) {
    return (
      `expected ${CURVE_KEY_LENGTH} characters of Z85, got ${key.length} ` +
      '(in a .env file, quote the value: Z85 keys may contain # and $)'
    );
  }
  const position = [...key].findIndex((char) => !Z85_VALUES.has(char));
  if (position >= 0) return `character ${position + 1} is not in the Z85 alphabet`;
  if (!z85Decode(key)) return 'it is not valid Z85 (a 5-character group is out of range)';
  return undefined;
}

/** The Z85 public key of a Z85 secret key (X25519, as libzmq's `zmq_curve_public`). */
export function curvePublicKeyOf(secretKey: string): string {
  const secret = z85Decode(secretKey);
  if (!secret || secret.length !== 32) throw new RangeError('Not a Z85 CURVE secret key.');
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, secret]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return z85Encode(Buffer.from(jwk.x!, 'base64url'));
}

const logger = new Logger('ZmqCurve');
const SOCKET_END_MARGIN_MS = 2000;

/** Makes a SUB socket a CURVE client with this instance's key pair, and logs failed handshakes. */
export function secureSubscriber(socket: Subscriber, curve: ResolvedCurve | undefined): void {
  if (!curve) return;
  socket.curvePublicKey = curve.publicKey;
  socket.curveSecretKey = curve.secretKey;
  const failures = new ThrottledLog(REJECTION_LOG_INTERVAL_MS, (line) => logger.warn(line));
  socket.events.on('handshake:error:auth', ({ address }) =>
    failures.log(
      `auth:${address}`,
      `The publisher at ${address} refused this subscriber: add this instance's public key ` +
        '(ZMQ_CURVE_PUBLIC_KEY) to ZMQ_CURVE_CLIENT_KEYS there; this instance keeps trying ' +
        'to connect, about once a second.',
    ),
  );
  onHandshakeError(socket, (address, code) =>
    failures.log(
      `handshake:${address}`,
      `CURVE handshake with ${address} failed (${code}): check that ZMQ_CURVE_SERVER_KEYS holds ` +
        'that publisher\u2019s public key and that it runs with CURVE.',
    ),
  );
}

/**
 * `curveServerKey` is copied by libzmq into each connection at `connect()`, so setting it before
 * each one lets a single SUB socket trust a different publisher key per address. Call it for
 * index 0, 1, 2... in order: a key equal to the previous one is not set again.
 */
export function setCurveServerKey(socket: Subscriber, curve: ResolvedCurve | undefined, index: number): void {
  const key = curve?.serverKeys[index];
  if (key === undefined || (index > 0 && curve!.serverKeys[index - 1] === key)) return;
  // zeromq.js warns about any option set after a connect ("will not take effect until next
  // connect/bind"): here the next connect is the point. The warning is emitted synchronously.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => undefined;
  try {
    socket.curveServerKey = key;
  } finally {
    process.emitWarning = emitWarning;
  }
}

/**
 * Makes an XPUB socket a CURVE server that admits only `curve.clientKeys`, through the process's
 * ZAP handler. Call before `bind()`: without a ZAP handler libzmq admits every CURVE client.
 * Release the lease after closing the socket: it waits for the socket to be gone.
 */
export async function secureXPublisher(
  socket: XPublisher,
  curve: ResolvedCurve | undefined,
): Promise<ZapLease | undefined> {
  if (!curve) return undefined;
  const refusals = new ThrottledLog(REJECTION_LOG_INTERVAL_MS, (line) => logger.warn(line));
  const lease = await acquireZapHandler(socket.context, {
    admits: (publicKey) => curve.admitAnyClient || curve.clientKeys.has(z85Encode(publicKey)),
    onRefused: (peer) =>
      refusals.log(
        `auth:${peer}`,
        `Refused a subscriber from ${peer}: its public key is not in ZMQ_CURVE_CLIENT_KEYS.`,
      ),
  });
  try {
    socket.curveServer = true;
    socket.curveSecretKey = curve.secretKey;
    socket.zapDomain = lease.domain;
  } catch (error) {
    await lease.release();
    throw error;
  }
  // Each session of the socket holds a pipe to the ZAP handler until the socket is destroyed,
  // after its linger, and the handler must keep receiving until then: an idle ROUTER does not
  // acknowledge the pipes' termination. libzmq reports the destruction as the monitor's last
  // event, `end`; it may drop that event, so the linger (which ZmqClient only lowers at close)
  // bounds the wait.
  const destroyed = new Promise<void>((resolve) => socket.events.on('end', () => resolve()));
  const bound = (socket.linger >= 0 ? socket.linger : 0) + SOCKET_END_MARGIN_MS;
  onHandshakeError(socket, (address, code) =>
    refusals.log(
      `handshake:${code}`,
      `A peer of ${address} failed the CURVE handshake (${code}): a plain-text peer, or one that ` +
        'does not have this publisher\u2019s public key in its ZMQ_CURVE_SERVER_KEYS.',
    ),
  );
  let released: Promise<void> | undefined;
  return {
    domain: lease.domain,
    release: () =>
      (released ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([destroyed, new Promise<void>((resolve) => (timer = setTimeout(resolve, bound)))]);
        clearTimeout(timer);
        await lease.release();
      })()),
  };
}

function onHandshakeError(socket: Socket, report: (address: string, code: string) => void): void {
  socket.events.on('handshake:error:protocol', ({ address, error }) =>
    report(address, error.code ?? 'protocol error'),
  );
  socket.events.on('handshake:error:other', ({ address, error }) => report(address, error.code ?? 'error'));
}
