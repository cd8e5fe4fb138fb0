import { Injectable } from '@nestjs/common';
import { Waiters } from './waiters.js';

/** Collects what handlers received, by name, and lets a test wait for a number of them. */
@Injectable()
export class Recorder {
  private readonly seen = new Map<string, unknown[]>();
  private readonly waiters = new Waiters();

  record(name: string, value: unknown): void {
    const list = this.seen.get(name) ?? [];
    list.push(value);
    this.seen.set(name, list);
    this.waiters.notify();
  }

  get(name: string): unknown[] {
    return this.seen.get(name) ?? [];
  }

  /** Resolves with the first `count` values recorded under `name`, or rejects after `timeoutMs`. */
  wait(name: string, count: number, timeoutMs = 10_000): Promise<unknown[]> {
    return this.waiters.until(
      () => (this.get(name).length >= count ? this.get(name).slice(0, count) : undefined),
      timeoutMs,
      () => new Error(`"${name}": expected ${count}, got ${this.get(name).length}`),
    );
  }
}
