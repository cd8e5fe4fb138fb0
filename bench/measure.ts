import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Usage } from './protocol.js';

let gcCount = 0;
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcCount++;
    gcMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

/** CPU and GC from `start()` on; the RSS high-water mark of the whole process. */
export class Meter {
  private cpu = process.cpuUsage();
  private gcCount = gcCount;
  private gcMs = gcMs;

  start(): void {
    this.cpu = process.cpuUsage();
    this.gcCount = gcCount;
    this.gcMs = gcMs;
  }

  read(): Usage {
    const cpu = process.cpuUsage(this.cpu);
    return {
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      rssBytes: process.memoryUsage.rss(),
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      // GC entries are delivered after the fact: the last collections may be missing.
      gcCount: gcCount - this.gcCount,
      gcMs: gcMs - this.gcMs,
    };
  }
}

export interface ProfileRequest {
  dir: string;
  kind: 'cpu' | 'heap';
  /** File name without extension. */
  name: string;
}

/**
 * A V8 profile of the timed region only (the whole-process `--cpu-prof` is mostly module
 * loading and Nest bootstrap). The heap kind samples every allocation, collected or not, so it
 * counts what the hot path allocates rather than what survives.
 */
export class RegionProfiler {
  private readonly session = new Session();

  constructor(private readonly request: ProfileRequest) {}

  async start(): Promise<void> {
    this.session.connect();
    if (this.request.kind === 'cpu') {
      await this.session.post('Profiler.enable');
      await this.session.post('Profiler.setSamplingInterval', { interval: 200 });
      await this.session.post('Profiler.start');
    } else {
      await this.session.post('HeapProfiler.enable');
      await this.session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      } as never);
    }
  }

  async stop(): Promise<void> {
    const { profile } =
      this.request.kind === 'cpu'
        ? await this.session.post('Profiler.stop')
        : await this.session.post('HeapProfiler.stopSampling');
    const extension = this.request.kind === 'cpu' ? 'cpuprofile' : 'heapprofile';
    writeFileSync(join(this.request.dir, `${this.request.name}.${extension}`), JSON.stringify(profile));
    this.session.disconnect();
  }
}
