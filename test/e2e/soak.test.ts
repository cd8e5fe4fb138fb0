import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SoakMesh } from '../../src/soak/soak.js';

// A forked child runs plain Node, which cannot compile the decorators: the test runs the build
// that test/global-setup.ts makes before any test file.
const INSTANCE = fileURLToPath(new URL('../../dist/soak/instance.js', import.meta.url));
const MESSAGES = 30_000;
const MAX_RSS_GROWTH = 100 * 1024 * 1024;

let mesh: SoakMesh | undefined;

afterEach(async () => {
  mesh?.kill();
  await mesh?.stop();
  mesh = undefined;
});

describe('soak, short version (npm run soak is the long one)', () => {
  it(`carries ${MESSAGES.toLocaleString('en')} messages through a three-instance mesh with backpressure=block: none lost, memory bounded`, async () => {
    const lines: string[] = [];
    mesh = await SoakMesh.start(INSTANCE, { onLine: (name, line) => lines.push(`${name}: ${line}`) });
    const results = await mesh.run({ messages: MESSAGES, window: 1000, phaseTimeoutMs: 60_000 });
    console.log(
      results
        .map(
          (r) =>
            `${r.name}: sent ${r.sent}, received ${r.received}, RSS ${r.rss.start} → ${r.rss.end} (peak ${r.rss.peak})`,
        )
        .join('\n'),
    );

    expect(results.map((r) => r.sent)).toEqual([10_000, 10_000, 10_000]);
    for (const r of results) {
      expect(r).toMatchObject({ expected: 20_000, received: 20_000, lost: 0, duplicates: 0, failed: 0 });
      expect(Object.values(r.from)).toEqual([10_000, 10_000]);
      expect(r.rss.samples).toBeGreaterThan(1);
      expect(r.growth).toBeLessThan(MAX_RSS_GROWTH);
    }
    // Nothing logged at warn or error level (the instances log nothing else).
    expect(lines).toEqual([]);

    await mesh.stop();
    expect(mesh.exits).toEqual({
      alpha: { code: 0, signal: null },
      beta: { code: 0, signal: null },
      gamma: { code: 0, signal: null },
    });
  }, 180_000);
});
