// Events arrive in bursts (a restore changes the box, then its tree, then the box again).
// Reloading once per event would race: an older answer could land after a newer one. Each
// key runs at most one load at a time; requests arriving meanwhile fold into one more run,
// so the last answer to land is always from after the last event.
export class Coalescer {
  private readonly entries = new Map<string, { again: boolean; promise: Promise<void> }>();

  run(key: string, work: () => Promise<void>): Promise<void> {
    const existing = this.entries.get(key);
    if (existing) {
      existing.again = true;
      return existing.promise;
    }
    const entry = { again: false, promise: Promise.resolve() };
    entry.promise = (async () => {
      try {
        let error: unknown = null;
        do {
          entry.again = false;
          try {
            await work();
            error = null;
          } catch (err) {
            error = err;
          }
        } while (entry.again);
        if (error !== null) throw error;
      } finally {
        this.entries.delete(key);
      }
    })();
    this.entries.set(key, entry);
    return entry.promise;
  }

  /** Resolves when nothing is loading (tests wait on this instead of sleeping). */
  async idle(): Promise<void> {
    while (this.entries.size > 0) await Promise.allSettled([...this.entries.values()].map((e) => e.promise));
  }
}
