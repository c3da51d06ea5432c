// What another local user can reach of a home that an owner (app or
// `boxkeep serve`) opened. A real owner on a temporary home; modes read from the file system.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedHome, type OwnedHome } from './host-fixtures.js';

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

describe('security review: home permissions', () => {
  let h: OwnedHome;
  beforeAll(async () => {
    h = await ownedHome();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('keeps the home (database, image and box disks) private to its user', () => {
    const homeMode = fs.statSync(h.home).mode & 0o777;
    // Only what others could actually open: the home must be traversable by them for any of it.
    const readableByOthers = (homeMode & 0o005) === 0o005
      ? walk(h.home).filter((p) => (fs.statSync(p).mode & 0o004) !== 0).map((p) => path.relative(h.home, p))
      : [];
    expect({ homeMode: homeMode.toString(8), readableByOthers: readableByOthers.filter((p) => /\.db$|\.qcow2$/.test(p)) })
      .toEqual({ homeMode: '700', readableByOthers: [] });
  });
});
