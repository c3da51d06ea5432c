// The commands as a user types them: box clone, box export -o, box import; their output and exit codes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Box, BoxDetail, Image, Snapshot } from '../../shared/types.js';
import { cli, cliOk, cliSync } from '../helpers/cli.js';
import { makeQcow2, requireTools, tempHome, writePattern } from '../helpers/disk.js';

const MiB = 1024 * 1024;
let tmp: { dir: string; cleanup(): void };
let home: string;

beforeAll(() => {
  requireTools('qemu-img', 'qemu-io');
  tmp = tempHome('bkca');
  home = path.join(tmp.dir, 'h');
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, 16 * MiB);
  writePattern(seed, 0, MiB, 0x11);
  cliOk(home, ['image', 'import', seed, '--name', 'seed']);
  cliOk(home, ['box', 'create', 'dev', '--image', 'seed']);
  cliOk(home, ['snapshot', 'create', 'dev', 'a']);
}, 120_000);
afterAll(() => tmp?.cleanup());

it('box clone, box export -o and box import, with text and --json', () => {
  const linked = cliOk<Box>(home, ['box', 'clone', 'dev', '--from', 'a']);
  expect(linked.name).toBe('dev clone');
  expect(linked.linkedSnapshotId).not.toBeNull();
  const text = cliSync(home, ['box', 'clone', 'dev', '--from', 'a', '--full', '--name', 'copy']);
  expect(text.code).toBe(0);
  const full = JSON.parse(text.out) as Box;
  expect(full.linkedSnapshotId).toBeNull();

  const refused = cliSync(home, ['snapshot', 'remove', 'dev', 'a']);
  expect(refused.code).toBe(5);
  expect(refused.err).toMatch(/linked clone \\?"dev clone\\?"/);

  const file = path.join(tmp.dir, 'dev.boxkeep');
  const exported = cliOk<{ path: string; bytes: number }>(home, ['box', 'export', 'dev', '-o', file]);
  expect(exported.path).toBe(file);
  expect(fs.statSync(file).size).toBe(exported.bytes);
  const again = cliSync(home, ['box', 'export', 'dev', '-o', file]);
  expect(again.code).toBe(4);

  const imported = cliOk<Box>(home, ['box', 'import', file]);
  expect(imported.name).toBe('dev (2)');
  const named = cliOk<Box>(home, ['box', 'import', file, '--name', 'other']);
  expect(named.name).toBe('other');

  fs.writeFileSync(path.join(tmp.dir, 'junk.boxkeep'), 'not an archive at all, just text'.repeat(40));
  const junk = cliSync(home, ['box', 'import', path.join(tmp.dir, 'junk.boxkeep')]);
  expect(junk.code).toBe(2);
  expect(junk.err).toMatch(/not a Boxkeep archive/);
  const boxes = cliOk<Box[]>(home, ['box', 'list']).map((b) => b.name).sort();
  expect(boxes).toEqual(['copy', 'dev', 'dev (2)', 'dev clone', 'other']);
}, 180_000);

it('box show of a linked clone names the source box\'s snapshots under it as that box\'s snapshots, and only the image as the image', async () => {
  cliOk(home, ['box', 'create', 'b1', '--image', 'seed']);
  const s1 = cliOk<Snapshot>(home, ['snapshot', 'create', 'b1', 's1']);
  const s2 = cliOk<Snapshot>(home, ['snapshot', 'create', 'b1', 's2']);
  const clone = cliOk<Box>(home, ['box', 'clone', 'b1', '--from', 's2', '--name', 'exp']);
  const c1 = cliOk<Snapshot>(home, ['snapshot', 'create', 'exp', 'c1']);
  const image = cliOk<Image[]>(home, ['image', 'list']).find((i) => i.name === 'seed')!;

  const d = cliOk<BoxDetail>(home, ['box', 'show', 'exp']);
  expect(d.chain.map((l) => [l.kind, l.snapshotName, l.ofBox?.name ?? null, l.path])).toEqual([
    ['live', null, null, clone.liveDiskPath],
    ['snapshot', 'c1', null, c1.diskPath],
    ['snapshot', 's2', 'b1', s2.diskPath],
    ['snapshot', 's1', 'b1', s1.diskPath],
    ['image', null, null, image.path],
  ]);
  expect(d.chain.filter((l) => l.kind === 'image').map((l) => l.imageId)).toEqual([image.id]);

  const shown = await cli(home, ['box', 'show', 'exp'], { text: true });
  expect(shown.code, shown.stderr).toBe(0);
  const rows = shown.stdout.slice(shown.stdout.indexOf('Disk chain, live disk first:')).trimEnd().split('\n').slice(2);
  expect(rows).toHaveLength(5);
  expect(rows[0]).toMatch(new RegExp(`^live +\\S+ \\S+ +${clone.liveDiskPath}$`));
  expect(rows[1]).toMatch(new RegExp(`^snapshot +c1 +\\S+ \\S+ +${c1.diskPath}$`));
  expect(rows[2]).toMatch(new RegExp(`^snapshot +s2 of b1 +\\S+ \\S+ +${s2.diskPath}$`));
  expect(rows[3]).toMatch(new RegExp(`^snapshot +s1 of b1 +\\S+ \\S+ +${s1.diskPath}$`));
  expect(rows[4]).toMatch(new RegExp(`^image +seed +\\S+ \\S+ +${image.path}$`));
  expect(rows.filter((r) => r.startsWith('image'))).toHaveLength(1);
}, 120_000);
