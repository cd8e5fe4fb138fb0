import type { CaseResult } from './case.js';
import { PEER_LABELS, PEERS } from './protocol.js';
import { MiB, SIZES, sizeLabel } from './scenarios.js';

const COLORS: Record<string, string> = {
  'raw-zmq': '#7f7f7f',
  bus: '#d62728',
  'nest-redis': '#1f77b4',
  'nest-nats': '#2ca02c',
};

const W = 760;
const H = 440;
const LEFT = 80;
const RIGHT = 170;
const TOP = 50;
const BOTTOM = 60;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Throughput (MiB/s of payload, log scale) by message size, one line per peer. */
export function throughputChart(results: CaseResult[], subtitle: string): string {
  const points = PEERS.map((peer) => ({
    peer,
    values: SIZES.map((size) => {
      const result = results.find((r) => r.workload === 'size' && r.peer === peer && r.payloadSize === size);
      return result?.status === 'ok' && result.bytesPerSec ? result.bytesPerSec / MiB : undefined;
    }),
  }));
  const all = points.flatMap((p) => p.values.filter((v): v is number => v !== undefined));
  const lo = Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...all, 10)));
  const plotW = W - LEFT - RIGHT;
  const plotH = H - TOP - BOTTOM;
  const x = (i: number): number => LEFT + (plotW * (i + 0.5)) / SIZES.length;
  const y = (v: number): number => TOP + plotH * (1 - (Math.log10(v) - lo) / (hi - lo));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">Throughput by message size (payload MiB/s, log scale)</text>`,
    `<text x="${LEFT}" y="38" fill="#555">${escape(subtitle)}</text>`,
  ];
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e).toFixed(1);
    out.push(
      `<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${LEFT - 8}" y="${Number(yy) + 4}" text-anchor="end">${(10 ** e).toLocaleString('en-US')}</text>`,
    );
  }
  SIZES.forEach((size, i) =>
    out.push(`<text x="${x(i)}" y="${TOP + plotH + 20}" text-anchor="middle">${sizeLabel(size)}</text>`),
  );
  out.push(
    `<text x="${LEFT + plotW / 2}" y="${H - 15}" text-anchor="middle">payload size per message</text>`,
    `<rect x="${LEFT}" y="${TOP}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  );
  points.forEach(({ peer, values }, n) => {
    const color = COLORS[peer]!;
    const segments: string[] = [];
    values.forEach((v, i) => {
      if (v === undefined) return;
      segments.push(
        `${segments.length === 0 || values[i - 1] === undefined ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`,
      );
    });
    if (segments.length) {
      out.push(`<path d="${segments.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    values.forEach((v, i) => {
      if (v === undefined) return;
      out.push(
        `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="4" fill="${color}">` +
          `<title>${escape(PEER_LABELS[peer])}, ${sizeLabel(SIZES[i]!)}: ${v.toFixed(1)} MiB/s</title></circle>`,
      );
    });
    const ly = TOP + 10 + n * 22;
    const missing = values.every((v) => v === undefined) ? ' (not measured)' : '';
    out.push(
      `<line x1="${LEFT + plotW + 15}" x2="${LEFT + plotW + 35}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${LEFT + plotW + 40}" y="${ly + 4}">${escape(PEER_LABELS[peer] + missing)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
