// Kills snapshot removal at each crash point, for each way a removal merges (commit into the
// removed snapshot, rebase of its dependents), then recovers and checks every byte.
import { describe, expect, it } from 'vitest';
import { diskDigest } from '../helpers/disk.js';
import { cleanUpWorldsAfterEach, crashAt, digests, makeWorld, points, recovered } from '../helpers/crash.js';

cleanUpWorldsAfterEach();

describe('snapshot remove killed at each step', () => {
  const cases = [
    { label: 'middle snapshot, one child (commit)', target: 'b', branch: false },
    { label: 'current snapshot, live disk depends on it', target: 'c', branch: false },
    { label: 'snapshot with two children (rebase)', target: 'b', branch: true },
    { label: 'root snapshot', target: 'a', branch: false },
  ];
  const matrix = cases.flatMap((c) => points('snapshot-remove').map((p) => [c.label, p, c] as const));
  it.each(matrix)('%s, %s: every other snapshot and the live disk read back their bytes', async (_label, point, c) => {
    const w = await makeWorld({ branch: c.branch });
    const r = crashAt(w, point, 'snapshots:remove', { box: 'dev', snapshot: c.target });
    if (r.signal !== 'SIGKILL') {
      // This mode of remove has no such step (e.g. the swap in a rebase): it must have finished.
      expect(r.status, r.stderr).toBe(0);
      expect(point).toMatch(/after-swap|after-merge/);
      return;
    }
    await recovered(w, (core) => {
      const now = digests(core, w.boxId);
      const expected = { ...w.snapshots };
      delete expected[c.target];
      // Remove rolls forward once it started: the target is gone, the rest untouched.
      expect(now[c.target]).toBeUndefined();
      for (const [name, digest] of Object.entries(expected)) expect(now[name], name).toBe(digest);
      expect(diskDigest(core.store.getBox(w.boxId)!.liveDiskPath)).toBe(w.live);
    });
  });
});

