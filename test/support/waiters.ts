/** Promises that settle once a condition holds, re-checked on every `notify()`; each bounded in time. */
export class Waiters {
  private readonly checks = new Set<() => void>();

  /** Re-checks every pending condition: call it after each change. */
  notify(): void {
    for (const check of this.checks) check();
  }

  /**
   * Resolves with the first value other than undefined that `check()` returns, now or on a later
   * `notify()`; rejects with what `check()` throws, or with `onTimeout()` after `timeoutMs`.
   */
  until<T>(check: () => T | undefined, timeoutMs: number, onTimeout: () => Error): Promise<T> {
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void): void => {
        clearTimeout(timer);
        this.checks.delete(run);
        outcome();
      };
      const run = (): void => {
        let value: T | undefined;
        try {
          value = check();
        } catch (error) {
          settle(() => reject(error));
          return;
        }
        if (value !== undefined) settle(() => resolve(value));
      };
      const timer = setTimeout(() => settle(() => reject(onTimeout())), timeoutMs);
      this.checks.add(run);
      run();
    });
  }
}
