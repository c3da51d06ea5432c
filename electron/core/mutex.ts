/** Serializes work per key: operations on one box queue, different boxes run in parallel. */
/** Home-wide operations share one queue so a box cannot be created on an image being removed. */
export const HOME_KEY = '#home';

export class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
