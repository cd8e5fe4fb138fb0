import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../src/demo/instance-process.js';

export { freePort };

/** A broker the benchmark started on loopback, or why it could not. */
export type Broker =
  | { ok: true; name: string; version: string; host: string; port: number; stop(): Promise<void> }
  | { ok: false; name: string; reason: string };

const READY_TIMEOUT_MS = 15_000;

/**
 * redis-server with nothing persisted and no output-buffer limit on pub/sub clients: the default
 * (32 MB) disconnects a subscriber that falls behind in a burst, the opposite of `noDrop`.
 */
export async function startRedis(): Promise<Broker> {
  const port = await freePort();
  return start(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--client-output-buffer-limit',
      'pubsub 0 0 0',
    ],
    /Ready to accept connections/,
    port,
    /[Vv]ersion=([^,\s]+)/,
  );
}

/**
 * nats-server with room for 1 MiB payloads (the default max_payload is exactly 1 MiB, which the
 * JSON envelope exceeds) and for a subscriber that falls behind in a burst (the default
 * max_pending of 64 MB cuts it off as a slow consumer).
 */
export async function startNats(dir: string): Promise<Broker> {
  const port = await freePort();
  const config = join(dir, 'nats.conf');
  writeFileSync(config, 'max_payload: 8388608\nmax_pending: 1073741824\nwrite_deadline: "30s"\n');
  return start(
    'nats-server',
    ['-a', '127.0.0.1', '-p', String(port), '-c', config],
    /Server is ready/,
    port,
    /Starting nats-server[\s\S]*?Version:\s+(\S+)/,
  );
}

function start(
  command: string,
  args: string[],
  ready: RegExp,
  port: number,
  versionPattern: RegExp,
): Promise<Broker> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      resolve({ ok: false, name: command, reason: String(error) });
      return;
    }
    let output = '';
    let settled = false;
    const timer = setTimeout(() => {
      finish({ ok: false, name: command, reason: `not ready after ${READY_TIMEOUT_MS} ms:\n${output}` });
      child.kill('SIGKILL');
    }, READY_TIMEOUT_MS);
    const finish = (broker: Broker): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(broker);
    };
    const onOutput = (chunk: Buffer): void => {
      if (settled) return;
      output += chunk.toString();
      if (ready.test(output)) {
        child.stdout!.removeAllListeners('data');
        child.stderr!.removeAllListeners('data');
        child.stdout!.resume();
        child.stderr!.resume();
        finish({
          ok: true,
          name: command,
          version: versionPattern.exec(output)?.[1] ?? 'unknown',
          host: '127.0.0.1',
          port,
          stop: () => stop(child),
        });
      }
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    child.once('error', (error: NodeJS.ErrnoException) =>
      finish({
        ok: false,
        name: command,
        reason:
          error.code === 'ENOENT'
            ? `${command} is not installed (Debian: apt-get install -y ${command})`
            : error.message,
      }),
    );
    child.once('exit', (code, signal) =>
      finish({ ok: false, name: command, reason: `exited (${signal ?? code}) before ready:\n${output}` }),
    );
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
