import { Injectable } from '@nestjs/common';

/** Collects what handlers received, by name, and lets a test wait for a number of them. */
@Injectable()
export class Recorder {
  private readonly seen = new Map<string, unknown[]>();
  private readonly waiters = new Set<() => void>();

  record(name: string, value: unknown): void {
    const list = this.seen.get(name) ?? [];
    list.push(value);
    this.seen.set(name, list);
    for (const check of this.waiters) check();
  }

  get(name: string): unknown[] {
    return this.seen.get(name) ?? [];
  }

  /** Resolves with the first `count` values recorded under `name`, or rejects after `timeoutMs`. */
  wait(name: string, count: number, timeoutMs = 10_000): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`"${name}": expected ${count}, got ${this.get(name).length}`));
      }, timeoutMs);
      const check = () => {
        if (this.get(name).length >= count) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(this.get(name).slice(0, count));
        }
      };
      this.waiters.add(check);
      check();
    });
  }
}
