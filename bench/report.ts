import type { CaseResult } from './case.js';
import { PEER_LABELS, PEERS, type PeerName } from './protocol.js';
import { MiB } from './scenarios.js';

const MB = 1e6;
const COMPARED: PeerName[] = ['raw-zmq', 'nest-redis', 'nest-nats'];

/** One line of the table: a figure taken from each peer's result of one scenario. */
export interface Row {
  label: string;
  unit: string;
  /** `lower`: smaller is better (latency, memory); the ratio is still this bus / the other. */
  better: 'higher' | 'lower';
  values: Partial<Record<PeerName, number>>;
  /** What to print instead of a figure (loss, error, not measured). */
  notes: Partial<Record<PeerName, string>>;
  ratios: Partial<Record<PeerName, number>>;
}

export interface Target {
  name: string;
  status: 'met' | 'not met' | 'not evaluated';
  /** The figure compared with the threshold. */
  value?: number;
  threshold: number;
  why?: string;
}

type Metric = {
  suffix: string;
  unit: string;
  better: Row['better'];
  pick: (r: CaseResult) => number | undefined;
};

function metrics(result: CaseResult): Metric[] {
  switch (result.workload) {
    case 'size':
      return [
        { suffix: '', unit: 'MiB/s', better: 'higher', pick: (r) => r.bytesPerSec && r.bytesPerSec / MiB },
      ];
    case 'fanout':
      return [{ suffix: '', unit: 'deliveries/s', better: 'higher', pick: (r) => r.rate }];
    case 'latency':
      return [
        { suffix: ' p50', unit: 'µs', better: 'lower', pick: (r) => r.latency?.p50 },
        { suffix: ' p99', unit: 'µs', better: 'lower', pick: (r) => r.latency?.p99 },
        { suffix: ' p99.9', unit: 'µs', better: 'lower', pick: (r) => r.latency?.p999 },
      ];
    case 'burst':
      return [
        { suffix: '', unit: 'msg/s', better: 'higher', pick: (r) => r.rate },
        {
          suffix: ' peak RSS pub',
          unit: 'MB',
          better: 'lower',
          pick: (r) => (r.status === 'ok' ? r.publisher && r.publisher.maxRssBytes / MB : undefined),
        },
        {
          suffix: ' peak RSS sub',
          unit: 'MB',
          better: 'lower',
          pick: (r) => r.subscriberUsage && r.subscriberUsage[0]!.maxRssBytes / MB,
        },
      ];
    default:
      return [{ suffix: '', unit: 'msg/s', better: 'higher', pick: (r) => r.rate }];
  }
}

function note(result: CaseResult | undefined): string {
  if (!result) return 'n/a';
  if (result.status === 'loss') {
    const least = Math.min(...result.received, result.sent);
    return `LOST ${result.sent - least}/${result.sent}`;
  }
  if (result.status === 'skipped') return 'n/a';
  return 'ERROR';
}

export function buildRows(results: CaseResult[]): Row[] {
  const labels = [...new Set(results.map((result) => result.label))];
  const rows: Row[] = [];
  for (const label of labels) {
    const byPeer = new Map(results.filter((r) => r.label === label).map((r) => [r.peer, r]));
    for (const metric of metrics(byPeer.values().next().value!)) {
      const row: Row = {
        label: label + metric.suffix,
        unit: metric.unit,
        better: metric.better,
        values: {},
        notes: {},
        ratios: {},
      };
      for (const peer of PEERS) {
        const result = byPeer.get(peer);
        const value = result?.status === 'ok' ? metric.pick(result) : undefined;
        if (value === undefined) row.notes[peer] = note(result);
        else row.values[peer] = value;
      }
      const ours = row.values.bus;
      for (const peer of COMPARED) {
        const theirs = row.values[peer];
        if (ours !== undefined && theirs !== undefined && theirs > 0) row.ratios[peer] = ours / theirs;
      }
      rows.push(row);
    }
  }
  return rows;
}

export function evaluateTargets(rows: Row[]): Target[] {
  const find = (prefix: string): Row | undefined => rows.find((row) => row.label.startsWith(prefix));
  const ratio = (name: string, prefix: string, peer: PeerName, threshold: number): Target => {
    const row = find(prefix);
    const value = row?.ratios[peer];
    if (value === undefined) {
      return {
        name,
        status: 'not evaluated',
        threshold,
        why: row ? `${row.notes.bus ?? row.notes[peer] ?? 'missing'}` : 'workload not run',
      };
    }
    return { name, status: value >= threshold ? 'met' : 'not met', value, threshold };
  };
  const below = (name: string, row: Row | undefined, threshold: number): Target => {
    const value = row?.values.bus;
    if (value === undefined) {
      return { name, status: 'not evaluated', threshold, why: row?.notes.bus ?? 'workload not run' };
    }
    return { name, status: value < threshold ? 'met' : 'not met', value, threshold };
  };
  return [
    ratio('awaited ≥ 0.8× raw zeromq.js', 'awaited', 'raw-zmq', 0.8),
    ratio('awaited ≥ 5× Nest Redis', 'awaited', 'nest-redis', 5),
    ratio('awaited ≥ 5× Nest NATS', 'awaited', 'nest-nats', 5),
    ratio('burst ≥ 0.8× raw zeromq.js', 'burst', 'raw-zmq', 0.8),
    ratio('size 64 KiB bytes/s ≥ 0.9× raw zeromq.js', 'size 64 KiB', 'raw-zmq', 0.9),
    ratio('size 1 MiB bytes/s ≥ 0.9× raw zeromq.js', 'size 1 MiB', 'raw-zmq', 0.9),
    below(
      'latency p99 < 1 ms (1000 µs) at 5k/s',
      find('latency') && rows.find((r) => r.label.endsWith(' p99')),
      1000,
    ),
    below(
      'publisher peak RSS < 200 MB in the burst',
      rows.find((r) => r.label.endsWith('peak RSS pub')),
      200,
    ),
  ];
}

function figure(value: number, unit: string): string {
  if (unit === 'MiB/s') return value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
  return Math.round(value).toLocaleString('en-US');
}

export function formatTable(rows: Row[]): string {
  const header = [
    'workload',
    'unit',
    ...PEERS.map((peer) => PEER_LABELS[peer]),
    ...COMPARED.map((peer) => `bus/${PEER_LABELS[peer].replace(/^(raw |Nest )/, '')}`),
  ];
  const lines = rows.map((row) => [
    row.label + (row.better === 'lower' ? ' ↓' : ''),
    row.unit,
    ...PEERS.map((peer) => {
      const value = row.values[peer];
      return value === undefined ? row.notes[peer]! : figure(value, row.unit);
    }),
    ...COMPARED.map((peer) => {
      const value = row.ratios[peer];
      return value === undefined ? '-' : `${value.toFixed(2)}×`;
    }),
  ]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  const render = (cells: string[]): string =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [
    render(header),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...lines.map(render),
    '↓ lower is better; ratios are this bus / the other (rates: >1 is faster; ↓ rows: <1 is better).',
  ].join('\n');
}

export function formatTargets(targets: Target[]): string {
  return targets
    .map((target) => {
      const mark = target.status === 'met' ? 'MET    ' : target.status === 'not met' ? 'NOT MET' : 'N/A    ';
      const value =
        target.value === undefined
          ? `(${target.why})`
          : `(${target.value.toFixed(target.value >= 10 ? 0 : 2)} vs ${target.threshold})`;
      return `${mark}  ${target.name}  ${value}`;
    })
    .join('\n');
}
