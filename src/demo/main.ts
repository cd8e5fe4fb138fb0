/**
 * `npm start`: three instances of the example application (`dist/main.js`) in a full mesh on
 * loopback. Each deletes a few entities and publishes `delete`; every other instance must evict
 * them, and all caches must end the same. Exits 0 if they do, 1 otherwise.
 */
import { fileURLToPath } from 'node:url';
import { readEnvFile } from './env-file.js';
import { describeExit, type InstanceProcess } from './instance-process.js';
import { idsReceived, startMesh } from './mesh.js';

const SCRIPT = fileURLToPath(new URL('../main.js', import.meta.url));
const ENV_EXAMPLE = new URL('../../.env.example', import.meta.url);
const PLAN: Record<string, number[]> = { alpha: [1, 2, 3], beta: [4, 5, 6], gamma: [7, 8, 9] };
const NAMES = Object.keys(PLAN);
const DELIVERY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const DEADLINE_MS = 90_000;
/** Nest's "[Nest] <pid>  - <date>, <time>" header, dropped: the prefix already says who speaks. */
const NEST_HEADER = /^\[Nest\] \d+\s+-\s+.*?\s+(?=(LOG|WARN|ERROR|DEBUG|VERBOSE|FATAL)\b)/;
/** The Nest log lines worth showing: the bus and the example, and any warning or error. */
const SHOWN = /\[(ZmqClient|ZmqServer|EntityService|CacheController|Main)\]|^(WARN|ERROR|FATAL)\b/;

const width = Math.max(...NAMES.map((name) => name.length));
const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const list = (ids: readonly number[]): string => (ids.length ? ids.join(', ') : '-');

function showLine(name: string, line: string): void {
  const text = line.replace(NEST_HEADER, '');
  if (text === line || SHOWN.test(text)) say(`${name.padEnd(width)} │ ${text}`);
}

async function run(instances: InstanceProcess[]): Promise<string[]> {
  const nameOf = new Map(instances.map((instance) => [instance.spec.pubAddress, instance.name]));
  say();
  for (const { spec } of instances) {
    const peers = spec.subAddresses.map((address) => nameOf.get(address) ?? address).join(' and ');
    say(`${spec.name.padEnd(width)} publishes on ${spec.pubAddress} and subscribes to ${peers}`);
  }
  say(
    `All ${instances.length} instances are up, each seeing its ${instances.length - 1} peers subscribed to "delete".`,
  );
  say(
    `Each deletes entities and publishes "delete": ${NAMES.map((n) => `${n} ${list(PLAN[n]!)}`).join('; ')}\n`,
  );
  for (const instance of instances) instance.send({ type: 'delete', ids: PLAN[instance.name]! });

  const expected = (name: string): number[] =>
    NAMES.filter((other) => other !== name)
      .flatMap((other) => PLAN[other]!)
      .toSorted((a, b) => a - b);
  await Promise.all(
    instances.map((instance) =>
      Promise.all([
        instance.waitFor('sent', DELIVERY_TIMEOUT_MS),
        instance.until(
          () => (idsReceived(instance).length >= expected(instance.name).length ? true : undefined),
          DELIVERY_TIMEOUT_MS,
          `delete of ${list(expected(instance.name))}`,
        ),
      ]),
    ),
  );
  for (const instance of instances) instance.send({ type: 'report' });
  const reports = await Promise.all(
    instances.map((instance) => instance.waitFor('report', DELIVERY_TIMEOUT_MS)),
  );

  const problems: string[] = [];
  const rows = instances.map((instance, i) => {
    const report = reports[i]!;
    const up = instance.events.find((event) => event.type === 'up');
    const received = idsReceived(instance);
    const want = expected(instance.name);
    if (list(received) !== list(want)) {
      problems.push(`${instance.name} received ${list(received)}, expected exactly ${list(want)}`);
    }
    if (report.messagesReceived !== instances.length - 1) {
      problems.push(
        `${instance.name} got ${report.messagesReceived} delete messages, expected ${instances.length - 1}`,
      );
    }
    return [
      instance.name,
      list(PLAN[instance.name]!),
      list(received),
      String(up?.type === 'up' ? up.cache.length : '?'),
      String(report.cache.length),
      list(report.cache),
    ];
  });
  say('\nSummary');
  table(['instance', 'sent', 'received', 'cache before', 'cache after', 'cached ids after'], rows);

  const caches = new Set(reports.map((report) => list(report.cache)));
  if (caches.size === 1) say(`\nEvery instance ended with the same cache: ${[...caches][0]}`);
  else
    problems.push(`the caches differ: ${reports.map((r) => `${r.instance} [${list(r.cache)}]`).join(', ')}`);
  return problems;
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  say(line(header));
  say(line(widths.map((w) => '─'.repeat(w))));
  for (const row of rows) say(line(row));
}

async function stopAll(instances: InstanceProcess[]): Promise<string[]> {
  say('\nStopping the instances (SIGTERM)');
  const exits = await Promise.all(instances.map((instance) => instance.stop(STOP_TIMEOUT_MS)));
  const problems: string[] = [];
  exits.forEach((exit, i) => {
    const name = instances[i]!.name;
    say(
      `${name.padEnd(width)} exited with ${describeExit(exit)}${exit.killed ? ' (killed: it did not stop by itself)' : ''}`,
    );
    if (exit.killed || exit.code !== 0) problems.push(`${name} did not exit cleanly (${describeExit(exit)})`);
  });
  return problems;
}

async function main(): Promise<number> {
  say(`ZeroMQ bus demo: ${NAMES.length} instances of the example app in a full mesh on loopback\n`);
  let instances: InstanceProcess[] = [];
  const abort = (why: string): void => {
    say(`\nDemo failed: ${why}`);
    for (const instance of instances) instance.kill();
    process.exit(1);
  };
  setTimeout(() => abort(`not finished within ${DEADLINE_MS} ms`), DEADLINE_MS).unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => abort(`interrupted (${signal})`));

  const problems: string[] = [];
  try {
    // The documented defaults, so that neither the shell nor a .env changes what the demo shows.
    const env = readEnvFile(ENV_EXAMPLE);
    if (Object.keys(env).length === 0)
      say(`(no ${fileURLToPath(ENV_EXAMPLE)}: the library's defaults apply)`);
    instances = await startMesh(SCRIPT, NAMES, { env, onLine: showLine });
    problems.push(...(await run(instances)));
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    problems.push(...(await stopAll(instances)));
  }
  if (problems.length) {
    say(`\nDemo failed:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    return 1;
  }
  say('\nDemo OK: every instance evicted exactly what the others deleted, and all caches agree.');
  return 0;
}

process.exitCode = await main();
