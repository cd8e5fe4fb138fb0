import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readEnvFile } from '../../src/demo/env-file.js';
import { freePorts, type InstanceProcess } from '../../src/demo/instance-process.js';
import { idsReceived, startMesh } from '../../src/demo/mesh.js';

// A forked child runs plain Node, which cannot compile the decorators: the tests run the build
// that test/global-setup.ts makes before any test file.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = `${ROOT}dist/main.js`;
const DEMO = `${ROOT}dist/demo/main.js`;
const ENV = readEnvFile(`${ROOT}.env.example`);
const DELIVERY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 15_000;

let running: InstanceProcess[] = [];
let demo: ChildProcess | undefined;

type EnvFor = (name: string) => Record<string, string>;

async function mesh(names: string[], env: EnvFor = () => ({})) {
  running = await startMesh(MAIN, names, { env: (name) => ({ ...ENV, ...env(name) }) });
  return running;
}

/** Resolves once `instance` has evicted `count` ids heard on the bus. */
function received(instance: InstanceProcess, count: number): Promise<true> {
  return instance.until(
    () => (idsReceived(instance).length >= count ? true : undefined),
    DELIVERY_TIMEOUT_MS,
    `${count} ids received`,
  );
}

afterEach(async () => {
  // The demo's own instances stop by themselves when it dies (their IPC channel closes).
  if (demo && demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
  demo = undefined;
  for (const instance of running) instance.kill();
  await Promise.all(running.map((instance) => instance.exited));
  running = [];
});

describe('the example app, built and forked', () => {
  it('delivers each instance exactly the other two instances’ deletes, and the caches converge', async () => {
    const plan: Record<string, number[]> = { a: [1, 2], b: [3, 4, 5], c: [6] };
    const instances = await mesh(Object.keys(plan));
    for (const instance of instances) instance.send({ type: 'delete', ids: plan[instance.name]! });

    const others = (name: string) => Object.keys(plan).filter((other) => other !== name);
    await Promise.all(
      instances.map((instance) =>
        received(instance, others(instance.name).flatMap((other) => plan[other]!).length),
      ),
    );
    for (const instance of instances) instance.send({ type: 'report' });
    const reports = await Promise.all(
      instances.map((instance) => instance.waitFor('report', DELIVERY_TIMEOUT_MS)),
    );

    for (const [i, instance] of instances.entries()) {
      // One message per peer, each carrying that peer's ids in order; never its own.
      const messages = instance.events.flatMap((event) => (event.type === 'evicted' ? [event.ids] : []));
      expect(messages.toSorted((x, y) => x[0]! - y[0]!)).toEqual(others(instance.name).map((o) => plan[o]));
      expect(reports[i]).toMatchObject({
        instance: instance.name,
        cache: [7, 8, 9, 10, 11, 12],
        sentIds: plan[instance.name]!.length,
        messagesSent: 1,
        messagesReceived: 2,
      });
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'exits by itself with code 0 on %s, its sockets and HTTP server closed',
    async (signal) => {
      const [port] = await freePorts(1);
      const [a, b] = await mesh(['a', 'b'], (name): Record<string, string> =>
        name === 'a' ? { HTTP_PORT: String(port) } : {},
      );
      const http = `http://127.0.0.1:${port}/entities`;
      expect(await (await fetch(http)).json()).toEqual({
        instance: 'a',
        ids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      });
      expect((await fetch(`${http}/2,3`, { method: 'DELETE' })).status).toBe(200);
      await received(b!, 2);
      expect(idsReceived(b!)).toEqual([2, 3]);

      const exits = await Promise.all([a!.stop(STOP_TIMEOUT_MS, signal), b!.stop(STOP_TIMEOUT_MS, signal)]);
      // Code 0 rather than death by the signal or the watchdog's exit 1: the event loop emptied.
      expect(exits).toEqual([
        { code: 0, signal: null, killed: false },
        { code: 0, signal: null, killed: false },
      ]);
      expect(a!.lines.some((line) => line.includes(`${signal}: closing the sockets`))).toBe(true);
    },
  );

  it('stops by itself, with code 0, when its parent goes away', async () => {
    const [a] = await mesh(['a', 'b']);
    a!.disconnect();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise(
      (resolve) => (timer = setTimeout(() => resolve('still running'), STOP_TIMEOUT_MS)),
    );
    const exit = await Promise.race([a!.exited, late]);
    clearTimeout(timer);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('npm start: the demo exits 0 and prints what each instance sent and received', async () => {
    const child = spawn(process.execPath, [DEMO], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    demo = child;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('Demo OK') });
    expect(output).toMatch(/^alpha\s+1, 2, 3\s+4, 5, 6, 7, 8, 9\s+12\s+3\s+10, 11, 12$/m);
    expect(output).toMatch(/^beta\s+4, 5, 6\s+1, 2, 3, 7, 8, 9\s+12\s+3\s+10, 11, 12$/m);
    expect(output).toMatch(/^gamma\s+7, 8, 9\s+1, 2, 3, 4, 5, 6\s+12\s+3\s+10, 11, 12$/m);
    expect(output).toContain('Every instance ended with the same cache: 10, 11, 12');
    expect(output).toMatch(/^gamma\s+│ LOG \[CacheController\] \[gamma\] received delete 1, 2, 3/m);
    for (const name of ['alpha', 'beta', 'gamma'])
      expect(output).toContain(`${name.padEnd(5)} exited with code 0`);
    expect(output).toContain('Demo OK');
  }, 120_000);
});
