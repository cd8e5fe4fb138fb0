/**
 * `npm run soak`: one million messages (`--messages N` to change) through three instances of the
 * bus in a full mesh on loopback, with `backpressure: 'block'`. Prints, per instance, what it sent
 * and received, what was lost, and its memory (RSS) over the main phase; exits 1 on any loss or
 * failure, or when an instance's RSS grows by more than `--max-growth-mb` (default 100).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type SoakMesh, SoakMesh as Mesh, type SoakResult } from './soak.js';

const SCRIPT = fileURLToPath(new URL('./instance.js', import.meta.url));
const MB = 1024 * 1024;

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const count = (n: number): string => n.toLocaleString('en');
const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

function positiveInteger(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

function table(results: SoakResult[]): string[] {
  const header = [
    'instance',
    'sent',
    'expected',
    'received',
    'from each peer',
    'lost',
    'RSS start',
    'peak',
    'end',
    'growth',
  ];
  const rows = results.map((r) => [
    r.name,
    count(r.sent),
    count(r.expected),
    count(r.received),
    Object.entries(r.from)
      .map(([peer, n]) => `${peer} ${count(n)}`)
      .join(', '),
    count(r.lost),
    mb(r.rss.start),
    mb(r.rss.peak),
    mb(r.rss.end),
    `${r.growth >= 0 ? '+' : ''}${mb(r.growth)}`,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1000000' },
      window: { type: 'string', default: '1000' },
      'max-growth-mb': { type: 'string', default: '100' },
    },
  });
  const messages = positiveInteger('messages', values.messages);
  const window = positiveInteger('window', values.window);
  const maxGrowth = positiveInteger('max-growth-mb', values['max-growth-mb']) * MB;
  const started = Date.now();
  say(
    `Soak: ${count(messages)} messages through 3 instances in a full mesh (backpressure: block, ${count(window)} emits in flight at most)`,
  );

  let mesh: SoakMesh | undefined;
  let results: SoakResult[] | undefined;
  let failure: Error | undefined;
  try {
    mesh = await Mesh.start(SCRIPT, {
      onLine: (name, line) => say(`${name} │ ${line}`),
    });
    results = await mesh.run({ messages, window, onProgress: (message) => say(`  ${message}`) });
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    results = (failure as { results?: SoakResult[] }).results;
  } finally {
    await mesh?.stop();
  }

  say();
  if (results) for (const row of table(results)) say(row);
  say();
  const exits = Object.entries(mesh?.exits ?? {}).map(
    ([name, exit]) => `${name} ${exit?.signal ?? `code ${exit?.code}`}`,
  );
  if (exits.length) say(`Exits: ${exits.join(', ')}`);
  say(`Elapsed: ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const problems: string[] = [];
  if (failure) problems.push(failure.message);
  for (const r of results ?? []) {
    if (r.lost !== 0) problems.push(`${r.name} lost ${count(r.lost)} message(s)`);
    if (r.duplicates !== 0) problems.push(`${r.name} received ${count(r.duplicates)} duplicate(s)`);
    if (r.failed !== 0) problems.push(`${r.name}: ${count(r.failed)} emit(s) failed`);
    if (r.growth > maxGrowth)
      problems.push(`${r.name}: RSS grew by ${mb(r.growth)}, more than ${mb(maxGrowth)}`);
  }
  if (problems.length) {
    for (const problem of problems) say(`FAIL: ${problem}`);
    return 1;
  }
  const delivered = results!.reduce((sum, r) => sum + r.received, 0);
  say(`Soak OK: ${count(messages)} messages published, ${count(delivered)} deliveries, none lost.`);
  return 0;
}

process.exitCode = await main();
