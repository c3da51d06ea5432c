// Which test file starts first. Two workers share the suite, so its wall time is about half the
// sum of the files' times, plus a tail when a long file starts last while the other worker has
// nothing left. Vitest orders by the durations it cached from an earlier run here, or by file
// size when it has none, as on a fresh clone: that started the look-inside files (small files
// taking minutes each) near the very end. This orders by the times of a whole run kept in
// durations.json, longest first; a file it does not know yet (a new one) starts before all.
import fs from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const DURATIONS = path.join(import.meta.dirname, 'durations.json');

/** Files (paths from the root, with "/") in the order to start them, given each known file's seconds. */
export function longestFirst(files: string[], seconds: Record<string, unknown>): string[] {
  const time = (f: string) => {
    const s = seconds[f];
    return typeof s === 'number' ? s : Infinity;
  };
  return [...files].sort((a, b) => time(b) - time(a) || (a < b ? -1 : 1));
}

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = JSON.parse(fs.readFileSync(DURATIONS, 'utf8')) as Record<string, unknown>;
    const name = (f: TestSpecification) => path.relative(this.ctx.config.root, f.moduleId).split(path.sep).join('/');
    const byName = new Map(files.map((f) => [name(f), f]));
    return longestFirst([...byName.keys()], seconds).map((n) => byName.get(n)!);
  }
}
