/**
 * Summarizes V8 profiles written by `npm run bench -- --cpu-prof=DIR` (.cpuprofile: self time)
 * or `--heap-sample=DIR` (.heapprofile: bytes allocated, sampled, including collected objects):
 * the top functions, and the totals by area (this bus, Nest, rxjs, zeromq.js, Node, GC).
 *
 *   node dist-bench/bench/profile-summary.js FILE... [--top=25]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});

function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'program (native, unattributed)';
    return functionName || '(native)';
  }
  if (url.includes('/src/zmq/')) return 'this bus (src/zmq)';
  if (url.includes('/bench/')) return 'bench harness';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'Node.js internals';
  return url;
}

function where(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  const file = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : '';
  return file ? `${name} ${file}` : name;
}

function print(title: string, totals: Map<string, number>, all: number, unit: (v: number) => string): void {
  const top = Number(values.top);
  console.log(title);
  for (const [key, value] of [...totals].toSorted((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * value) / all).toFixed(1).padStart(5)}%  ${unit(value).padStart(10)}  ${key}`);
  }
}

const ms = (micros: number): string => `${(micros / 1000).toFixed(0)} ms`;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function cpu(profile: CpuProfile): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, micros] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    total += micros;
    byFunction.set(where(frame), (byFunction.get(where(frame)) ?? 0) + micros);
    byArea.set(area(frame), (byArea.get(area(frame)) ?? 0) + micros);
  }
  console.log(`busy (not idle): ${ms(total)}`);
  print('self time by area:', byArea, total, ms);
  print('self time by function:', byFunction, total, ms);
}

function heap(root: HeapNode): void {
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode): void => {
    total += node.selfSize;
    byFunction.set(where(node.callFrame), (byFunction.get(where(node.callFrame)) ?? 0) + node.selfSize);
    byArea.set(area(node.callFrame), (byArea.get(area(node.callFrame)) ?? 0) + node.selfSize);
    node.children.forEach(walk);
  };
  walk(root);
  console.log(`allocated (sampled estimate): ${mb(total)}`);
  print('allocated by area:', byArea, total, mb);
  print('allocated by function:', byFunction, total, mb);
}

for (const file of positionals) {
  console.log(`== ${basename(file)}`);
  const data = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile | { head: HeapNode };
  if ('head' in data) heap(data.head);
  else cpu(data);
}
