const MAX_KEYS = 1000;

/**
 * Writes at most one line per key per interval, and says how many were held back, so that a
 * peer flooding bad messages is visible in the log without drowning it.
 */
export class ThrottledLog {
  private readonly seen = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly write: (line: string) => void,
  ) {}

  log(key: string, line: string): void {
    const now = Date.now();
    const entry = this.seen.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.held++;
      return;
    }
    if (!entry && this.seen.size >= MAX_KEYS) this.seen.clear();
    this.write(entry?.held ? `${line} (and ${entry.held} more like it since the last report)` : line);
    this.seen.set(key, { at: now, held: 0 });
  }
}
