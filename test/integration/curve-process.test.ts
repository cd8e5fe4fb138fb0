import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { curveKeyPair, Router } from 'zeromq';
import { ZmqClient, ZmqConfigError } from '../../src/zmq/index.js';
import { ZAP_ENDPOINT } from '../../src/zmq/zmq.zap.js';
import { endpoint } from '../support/bus.js';

// This file runs in a process of its own: no ZAP handler of the library is bound yet.

const ROOT = join(import.meta.dirname, '..', '..');
const keys = curveKeyPair();

/** A CURVE publisher and subscriber that exchange one message and close; the process must then exit. */
const CHILD = `
import { Logger } from '@nestjs/common';
import { curveKeyPair, Subscriber } from 'zeromq';
import { ZmqClient, ZmqServer } from './zmq/index.js';

Logger.overrideLogger(false);

const publisher = curveKeyPair();
const subscriber = curveKeyPair();
const client = new ZmqClient({
  pubAddress: 'tcp://127.0.0.1:*',
  curvePublicKey: publisher.publicKey,
  curveSecretKey: publisher.secretKey,
  curveClientKeys: subscriber.publicKey,
});
await client.connect();
const server = new ZmqServer({
  subAddresses: client.endpoint,
  curvePublicKey: subscriber.publicKey,
  curveSecretKey: subscriber.secretKey,
  curveServerKeys: publisher.publicKey,
});
await new Promise((resolve, reject) => server.listen((error) => (error ? reject(error) : resolve())));
const socket = new Subscriber({
  curvePublicKey: subscriber.publicKey,
  curveSecretKey: subscriber.secretKey,
  curveServerKey: publisher.publicKey,
  linger: 0,
});
socket.connect(client.endpoint);
socket.subscribe('news');
await client.waitForSubscribers('news');
await new Promise((resolve, reject) => client.emit('news', ['hello']).subscribe({ complete: resolve, error: reject }));
const frames = await socket.receive();
console.log(JSON.stringify(frames.map(String)));
socket.close();
await server.close();
await client.close();
console.log('closed');
`;

describe('CURVE and the process', () => {
  let buildDir: string | undefined;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    // The child runs the compiled library; under node_modules so that it resolves the packages.
    const cache = join(ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    buildDir = mkdtempSync(join(cache, 'zmq-bus-curve-'));
    await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        buildDir,
      ],
      { cwd: ROOT },
    );
    writeFileSync(join(buildDir, 'child.mjs'), CHILD);
  });
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  afterAll(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it('refuses to start a CURVE publisher while another ZAP handler holds the endpoint', async () => {
    const foreign = new Router({ linger: 0 });
    await foreign.bind(ZAP_ENDPOINT);
    const client = new ZmqClient({
      pubAddress: await endpoint('tcp'),
      curvePublicKey: keys.publicKey,
      curveSecretKey: keys.secretKey,
      curveClientKeys: '*',
    });
    try {
      const error = await client.connect().then(
        () => new Error('connect() succeeded'),
        (thrown: Error) => thrown,
      );
      expect(error).toBeInstanceOf(ZmqConfigError);
      expect(error.message).toMatch(
        /ZMQ_ADDRESS_PUB .* CURVE needs the ZAP endpoint inproc:\/\/zeromq\.zap\.01/,
      );
    } finally {
      await client.close();
      await foreign.unbind(ZAP_ENDPOINT);
      foreign.close();
    }
  });

  it('lets the process exit once its CURVE bus is closed', async () => {
    child = spawn(process.execPath, [join(buildDir!, 'child.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the process did not exit within 20 s; stdout: ${stdout} stderr: ${stderr}`)),
        20_000,
      );
      child!.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.trim().split('\n')).toEqual(['["news","hello"]', 'closed']);
  });
});
