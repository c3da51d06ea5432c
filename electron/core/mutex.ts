/** Serializes work per key: operations on one box queue, different boxes run in parallel. */
/** Home-wide operations share one queue so a box cannot be created on an image being removed. */
export const HOME_KEY = '#home';

/**
 * Runs before each work of a key, with the kind the work was queued as: what a kind of work
 * keeps between its runs (a warm disk appliance holding a box's snapshots) is let go here,
 * before any other work of that key may touch the same files.
 */
export type BeforeWork = (key: string, kind: string | undefined) => Promise<void>;

export class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();
  private readonly before: BeforeWork[] = [];

  beforeEach(hook: BeforeWork): void {
    this.before.push(hook);
  }

  run<T>(key: string, work: () => Promise<T>, kind?: string): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const start = async () => {
      for (const hook of this.before) await hook(key, kind);
      return work();
    };
    const next = previous.then(start, start);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
