/**
 * `npm run bench` / `npm run bench:smoke`: every workload through raw zeromq.js, this bus, Nest's
 * Redis and NATS transports, each run in fresh child processes. See bench/README.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { brokerAddresses, type CaseResult, live, runCase } from './case.js';
import { throughputChart } from './chart.js';
import { PEER_LABELS, PEERS, type PeerName, WORKLOADS, type WorkloadName } from './protocol.js';
import { buildRows, evaluateTargets, formatTable, formatTargets } from './report.js';
import { scenarios } from './scenarios.js';
import { type Broker, startNats, startRedis } from './servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    peers: { type: 'string' },
    workloads: { type: 'string' },
    /** Write V8 CPU profiles of each child's timed region into this folder. */
    'cpu-prof': { type: 'string' },
    /** Write sampled allocation profiles of each child's timed region into this folder. */
    'heap-prof': { type: 'string' },
    out: { type: 'string' },
    /** Raw zeromq.js subscribers hold this many MB of live heap, as a Nest app does. */
    'raw-heap-mb': { type: 'string' },
  },
});

function pick<T extends string>(list: string | undefined, allowed: readonly T[], what: string): T[] {
  if (!list) return [...allowed];
  const chosen = list.split(',').map((item) => item.trim());
  for (const item of chosen) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new Error(`Unknown ${what} "${item}"; expected some of ${allowed.join(', ')}`);
    }
  }
  return chosen as T[];
}

const smoke = flags.smoke!;
const peers = pick<PeerName>(flags.peers, PEERS, 'peer');
const workloads = new Set(pick<WorkloadName>(flags.workloads, WORKLOADS, 'workload'));
const rawHeapMb = flags['raw-heap-mb'] === undefined ? undefined : Number(flags['raw-heap-mb']);
if (rawHeapMb !== undefined && !(rawHeapMb > 0)) throw new Error('--raw-heap-mb needs a number of megabytes');
const outDir = flags.out ?? join(ROOT, 'bench', 'results', smoke ? 'smoke' : '');
const tty = process.stderr.isTTY;

function progress(text: string): void {
  if (tty) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(`${text}\n`);
}

const brokers: Broker[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'zmq-bench-'));

async function cleanUp(): Promise<void> {
  for (const child of live) child.kill('SIGKILL');
  await Promise.all(brokers.map((broker) => (broker.ok ? broker.stop() : undefined)));
  rmSync(scratch, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  const redis = peers.includes('nest-redis') ? await startRedis() : undefined;
  const nats = peers.includes('nest-nats') ? await startNats(scratch) : undefined;
  for (const broker of [redis, nats]) if (broker) brokers.push(broker);
  const missing = brokers.filter((broker) => !broker.ok);
  for (const broker of missing) {
    process.stderr.write(`${broker.name} unavailable, its peer is not measured: ${broker.reason}\n`);
  }
  const servers = brokerAddresses(redis, nats);
  const available = (peer: PeerName): boolean =>
    (peer !== 'nest-redis' || redis?.ok === true) && (peer !== 'nest-nats' || nats?.ok === true);

  const plan = scenarios(smoke, workloads);
  const profileDir = flags['cpu-prof'] ?? flags['heap-prof'];
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const profile = profileDir
    ? { dir: profileDir, kind: flags['cpu-prof'] ? ('cpu' as const) : ('heap' as const) }
    : undefined;
  const results: CaseResult[] = [];
  const total = plan.length * peers.length;
  for (const scenario of plan) {
    for (const peer of peers) {
      progress(`[${results.length + 1}/${total}] ${scenario.label} · ${PEER_LABELS[peer]} …`);
      if (!available(peer)) {
        results.push({
          peer,
          workload: scenario.workload,
          label: scenario.label,
          payloadSize: scenario.payloadSize,
          subscribers: scenario.subscribers,
          status: 'skipped',
          detail: 'broker unavailable',
          sent: scenario.count,
          received: [],
        });
        continue;
      }
      results.push(await runCase(peer, scenario, { servers, profile, rawHeapMb }));
    }
  }
  progress(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (tty) process.stderr.write('\n');
  await Promise.all(brokers.map((broker) => (broker.ok ? broker.stop() : undefined)));

  const rows = buildRows(results);
  const targets = smoke ? [] : evaluateTargets(rows);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const meta = {
    date: new Date().toISOString(),
    command: `node ${process.argv.slice(1).join(' ')}`,
    smoke,
    node: process.version,
    zeromq: { libzmq: zmq.version },
    bus: pkg.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    brokers: brokers.map((broker) =>
      broker.ok
        ? { name: broker.name, version: broker.version }
        : { name: broker.name, missing: broker.reason },
    ),
    durationSeconds: (Date.now() - started) / 1000,
    rawHeapMb,
  };

  console.log(formatTable(rows));
  if (rawHeapMb)
    console.log(`raw zeromq.js subscribers held ${rawHeapMb} MB of extra live heap (--raw-heap-mb).`);
  const problems = results.filter((result) => result.status === 'loss' || result.status === 'error');
  for (const result of problems) {
    console.log(
      `${result.status.toUpperCase()}: ${result.label} · ${PEER_LABELS[result.peer]}: ${result.detail}`,
    );
  }
  for (const broker of missing) console.log(`NOT MEASURED: ${broker.name}: ${broker.reason}`);
  if (targets.length) console.log(`\nTargets (this bus):\n${formatTargets(targets)}`);

  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'latest.json');
  const svg = join(outDir, 'throughput-by-size.svg');
  writeFileSync(json, `${JSON.stringify({ meta, results, rows, targets }, null, 2)}\n`);
  if (workloads.has('size')) {
    writeFileSync(
      svg,
      throughputChart(results, `${meta.date.slice(0, 10)}, ${meta.cpus}, Node ${meta.node}`),
    );
  }
  process.stderr.write(`wrote ${json}${workloads.has('size') ? ` and ${svg}` : ''}\n`);

  if (smoke) {
    if (problems.length) {
      console.log(`smoke: FAILED, ${problems.length} run(s) lost messages or failed`);
      return 1;
    }
    if (missing.length && process.env.CI) {
      console.log(`smoke: FAILED, ${missing.map((b) => b.name).join(', ')} missing (CI is set)`);
      return 1;
    }
    const checked = results.filter((result) => result.status === 'ok').length;
    console.log(
      `smoke: ${checked} run(s) delivered every message${missing.length ? ' (some peers not measured)' : ''}`,
    );
  }
  return 0;
}

main().then(
  async (code) => {
    await cleanUp();
    process.exit(code);
  },
  async (error: unknown) => {
    console.error(error);
    await cleanUp();
    process.exit(1);
  },
);
