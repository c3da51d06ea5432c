// A home edited by hand: things in a journal that are not records, a record of an operation
// this build does not know, a record recovery cannot settle. Every command goes on working
// (nothing hangs), the user gets a way out, and a box with an unfinished operation never starts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Box, RecoveryReport } from '../../shared/types.js';
import { diskDigest, makeQcow2, requireTools, tempHome, writePattern } from '../helpers/disk.js';

const BIN = path.resolve('bin/boxkeep.mjs');
const MiB = 1024 * 1024;
let tmp: { dir: string; cleanup(): void };
let home: string;
let box: Box;

/** One CLI run; a command that hangs (a FIFO opened for reading) is killed after 20 s. */
function boxkeep(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--home', home, '--json', ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, BOXKEEP_STOP_TIMEOUT_MS: '1000' } });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

function ok<T>(...args: string[]): T {
  const r = boxkeep(...args);
  if (r.code !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

const errorOf = (r: { err: string }) => (JSON.parse(r.err) as { error: { code: string; message: string } }).error;

beforeEach(() => {
  requireTools('qemu-img', 'qemu-io', 'mkfifo');
  tmp = tempHome('bkth');
  home = path.join(tmp.dir, 'h');
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, 8 * MiB);
  writePattern(seed, 0, MiB, 0x11);
  ok('image', 'import', seed, '--name', 'seed');
  box = ok<Box>('box', 'create', 'dev', '--image', 'seed');
  ok('snapshot', 'create', 'dev', 'a');
});
afterEach(() => {
  boxkeep('box', 'stop', 'dev', '--force');
  tmp.cleanup();
});

const boxJournal = () => path.join(home, 'boxes', box.id, 'journal');
const homeJournal = () => path.join(home, 'journal');
const orphans = () => (fs.existsSync(path.join(home, 'orphans')) ? fs.readdirSync(path.join(home, 'orphans')) : []);

/** A record of an operation this build does not know, with the partial folder it made. */
function unknownOperation(): string {
  const id = 'feedfacecafe';
  fs.mkdirSync(boxJournal(), { recursive: true });
  fs.writeFileSync(path.join(boxJournal(), `${id}.json`), JSON.stringify({ id, op: 'snapshot-clone', startedAt: Date.now(), boxId: box.id }));
  const partial = path.join(home, 'boxes', box.id, 'snapshots', 'abcdefabcdef');
  fs.mkdirSync(partial, { recursive: true });
  fs.writeFileSync(path.join(partial, 'container.qcow2'), 'half a clone');
  return id;
}

/** A snapshot removal recovery keeps: the dependent it would merge into is missing. */
function stuckRemoval(): string {
  const id = 'deadbeef0001';
  const a = ok<{ snapshots: { id: string; diskPath: string }[] }>('snapshot', 'list', 'dev').snapshots[0]!;
  fs.mkdirSync(boxJournal(), { recursive: true });
  fs.writeFileSync(path.join(boxJournal(), `${id}.json`), JSON.stringify({
    id, op: 'snapshot-remove', startedAt: Date.now(), boxId: box.id, snapshotId: a.id, snapshotPath: a.diskPath,
    parentPath: path.join(home, 'images', 'x', 'disk.qcow2'), parentId: null, mode: 'rebase',
    // As a real removal of the current snapshot writes it: every dependent, the live disk among them.
    dependents: [
      { path: path.join(home, 'boxes', box.id, 'disks', 'container.qcow2'), snapshotId: null },
      { path: path.join(home, 'boxes', box.id, 'snapshots', 'aaaaaaaaaaaa', 'container.qcow2'), snapshotId: 'aaaaaaaaaaaa' },
    ],
  }));
  return id;
}

describe('a journal holding things that are not records', () => {
  it('a folder, a FIFO and a link named *.json neither hang nor break any command: they are moved to orphans/ and reported', () => {
    fs.mkdirSync(path.join(boxJournal(), 'folder.json', 'inside'), { recursive: true });
    fs.writeFileSync(path.join(boxJournal(), 'folder.json', 'inside', 'keep.txt'), 'mine');
    fs.mkdirSync(homeJournal(), { recursive: true });
    expect(spawnSync('mkfifo', [path.join(homeJournal(), 'pipe.json')]).status).toBe(0);
    fs.symlinkSync('/etc/passwd', path.join(homeJournal(), 'link.json'));
    fs.mkdirSync(path.join(homeJournal(), 'half.json.tmp-1'));

    const r = boxkeep('recover');
    expect(r.signal, 'recover hung').toBeNull();
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as RecoveryReport;
    const moved = report.items.filter((i) => /not an intent record; it was moved to .*orphans/.test(i.message)).map((i) => i.message);
    expect(moved).toHaveLength(4);
    expect(moved.join('\n')).toMatch(/folder\.json is a folder/);
    expect(moved.join('\n')).toMatch(/pipe\.json is a FIFO/);
    expect(moved.join('\n')).toMatch(/link\.json is a symbolic link/);

    expect(fs.readdirSync(homeJournal())).toEqual([]);
    expect(fs.readdirSync(boxJournal())).toEqual([]);
    const folder = orphans().find((n) => n.endsWith('journal-folder.json'))!;
    expect(fs.readFileSync(path.join(home, 'orphans', folder, 'inside', 'keep.txt'), 'utf8')).toBe('mine');
    expect(fs.readFileSync('/etc/passwd', 'utf8').length).toBeGreaterThan(0); // the link target is untouched
    // And the box takes changes again.
    ok('snapshot', 'create', 'dev', 'b');
    expect(ok<Box[]>('box', 'list')).toHaveLength(1);
  });
});

describe('a journal that is not what Boxkeep wrote', () => {
  it('a journal folder replaced by a symlink is moved aside, and nothing it points at is touched', () => {
    const outside = path.join(tmp.dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'notes.json'), 'not a record, and not Boxkeep\'s');
    fs.rmSync(homeJournal(), { recursive: true, force: true });
    fs.symlinkSync(outside, homeJournal());
    const report = ok<RecoveryReport>('recover');
    expect(report.items.map((i) => i.message).join('\n')).toMatch(/journal is a symbolic link.*moved to/);
    expect(fs.readFileSync(path.join(outside, 'notes.json'), 'utf8')).toBe('not a record, and not Boxkeep\'s');
    expect(fs.lstatSync(homeJournal(), { throwIfNoEntry: false })?.isSymbolicLink() ?? false).toBe(false);
    expect(ok<Box[]>('box', 'list').map((b) => b.name)).toEqual(['dev']);
  });

  it('an unreadable record is moved to orphans/, never deleted', () => {
    fs.mkdirSync(boxJournal(), { recursive: true });
    fs.writeFileSync(path.join(boxJournal(), 'diary.json'), '{"mood":"good"}');
    const report = ok<RecoveryReport>('recover');
    expect(report.items.map((i) => i.message).join('\n')).toMatch(/diary\.json .*was moved to/);
    const moved = orphans().find((n) => n.endsWith('journal-diary.json'));
    expect(moved).toBeDefined();
    expect(fs.readFileSync(path.join(home, 'orphans', moved!), 'utf8')).toBe('{"mood":"good"}');
  });
});

describe('a box folder holding things Boxkeep did not make', () => {
  it('a file, a link and a FIFO in snapshots/ are never deleted nor followed: reported, and moved to orphans/ when named like a snapshot', () => {
    const snaps = path.join(home, 'boxes', box.id, 'snapshots');
    const outside = path.join(tmp.dir, 'outside.txt');
    fs.writeFileSync(outside, 'not Boxkeep\'s');
    fs.writeFileSync(path.join(snaps, 'notes.txt'), 'hi\n');
    fs.symlinkSync(outside, path.join(snaps, 'link'));
    expect(spawnSync('mkfifo', [path.join(snaps, 'pipe')]).status).toBe(0);
    fs.writeFileSync(path.join(snaps, 'abcdef012345'), 'named like a snapshot');
    fs.mkdirSync(path.join(snaps, '0123456789ab'));
    fs.writeFileSync(path.join(snaps, '0123456789ab', '.hidden'), 'only a hidden file');

    const text = spawnSync(process.execPath, [BIN, '--home', home, 'recover'], { encoding: 'utf8', timeout: 20_000 });
    expect(text.signal, 'recover hung').toBeNull();
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).not.toMatch(/Nothing to recover/);
    const flat = text.stdout.replace(/\s+/g, ' ');
    expect(flat).toMatch(/notes\.txt is a file Boxkeep did not make; it was left where it is/);
    expect(flat).toMatch(/link is a symbolic link Boxkeep did not make; it was left where it is/);
    expect(flat).toMatch(/pipe is a FIFO Boxkeep did not make; it was left where it is/);
    expect(flat).toMatch(/Found a file in the snapshots folder of the box "dev" that no record knows; it was moved to/);

    expect(fs.readFileSync(path.join(snaps, 'notes.txt'), 'utf8')).toBe('hi\n');
    expect(fs.lstatSync(path.join(snaps, 'link')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(outside, 'utf8')).toBe('not Boxkeep\'s');
    expect(fs.lstatSync(path.join(snaps, 'pipe')).isFIFO()).toBe(true);
    const file = orphans().find((n) => n.endsWith(`snapshot-${box.id}-abcdef012345`))!;
    expect(fs.readFileSync(path.join(home, 'orphans', file), 'utf8')).toBe('named like a snapshot');
    // A folder with only a hidden file in it is not empty: moved aside, not deleted.
    const folder = orphans().find((n) => n.endsWith(`snapshot-${box.id}-0123456789ab`))!;
    expect(fs.readFileSync(path.join(home, 'orphans', folder, '.hidden'), 'utf8')).toBe('only a hidden file');

    // Still said at the next recover, and the box still works.
    const again = ok<RecoveryReport>('recover').items.map((i) => i.message).join('\n');
    expect(again).toMatch(/notes\.txt is a file Boxkeep did not make/);
    ok('snapshot', 'create', 'dev', 'b');
    expect(fs.readFileSync(path.join(snaps, 'notes.txt'), 'utf8')).toBe('hi\n');
  });

  it('a live disk replaced by a link to nothing is never followed nor made again through it: reported, left as it is', () => {
    const live = path.join(home, 'boxes', box.id, 'disks', 'container.qcow2');
    const saved = path.join(tmp.dir, 'saved-live.qcow2');
    const target = path.join(tmp.dir, 'nowhere.qcow2');
    fs.renameSync(live, saved);
    fs.symlinkSync(target, live);
    try {
      const out = boxkeep('recover');
      expect(out.code, out.err).toBe(0);
      expect((JSON.parse(out.out) as RecoveryReport).items.map((i) => i.message).join('\n')).toMatch(/The live disk of the box "dev" \(.*\) is a symbolic link, not a disk Boxkeep made; Boxkeep never follows or replaces it/);
      expect(fs.existsSync(target), 'nothing made where the link points').toBe(false);
      expect(fs.lstatSync(live).isSymbolicLink()).toBe(true);
    } finally {
      fs.rmSync(live);
      fs.renameSync(saved, live);
    }
    expect(ok<RecoveryReport>('recover').items.map((i) => i.message).join('\n')).not.toMatch(/live disk/);

    // Its whole disks folder a file: reported, nothing made there, and the next recover fails on nothing.
    const disks = path.dirname(live);
    fs.renameSync(disks, path.join(tmp.dir, 'saved-disks'));
    fs.writeFileSync(disks, 'not a folder');
    try {
      const out = boxkeep('recover');
      expect(out.code, out.err).toBe(0);
      expect((JSON.parse(out.out) as RecoveryReport).items.map((i) => i.message).join('\n')).toMatch(/The disks folder of the box "dev" \(.*\) is a file, not a folder; Boxkeep never follows or replaces it/);
      expect(fs.readFileSync(disks, 'utf8')).toBe('not a folder');
    } finally {
      fs.rmSync(disks);
      fs.renameSync(path.join(tmp.dir, 'saved-disks'), disks);
    }
  });

  it('a file or a link in boxes/ and images/ is reported as what it is and never followed; a box whose folder became a file is left as it is', () => {
    const outside = path.join(tmp.dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'mine.txt'), 'mine');
    fs.writeFileSync(path.join(home, 'boxes', 'todo.txt'), 'a note');
    fs.symlinkSync(outside, path.join(home, 'images', 'abcabcabcabc'));
    const report = ok<RecoveryReport>('recover').items.map((i) => i.message).join('\n');
    expect(report).toMatch(/todo\.txt is a file Boxkeep did not make; it was left where it is/);
    expect(report).toMatch(/Found a symbolic link in the images folder that no record knows; it was moved to/);
    expect(fs.readFileSync(path.join(home, 'boxes', 'todo.txt'), 'utf8')).toBe('a note');
    expect(fs.readFileSync(path.join(outside, 'mine.txt'), 'utf8')).toBe('mine');
    const link = orphans().find((n) => n.endsWith('image-abcabcabcabc'))!;
    expect(fs.lstatSync(path.join(home, 'orphans', link)).isSymbolicLink()).toBe(true);

    const boxDir = path.join(home, 'boxes', box.id);
    fs.renameSync(boxDir, path.join(tmp.dir, 'moved-box'));
    fs.writeFileSync(boxDir, 'not a folder');
    const kept = boxkeep('recover');
    expect(kept.code, kept.err).toBe(0);
    expect((JSON.parse(kept.out) as RecoveryReport).items.map((i) => i.message).join('\n')).toMatch(/The folder of the box "dev" .* is a file, not a folder; .*left the box as it is/);
    expect(fs.readFileSync(boxDir, 'utf8')).toBe('not a folder');
    expect(ok<Box[]>('box', 'list').map((b) => b.name)).toEqual(['dev']);

    // The boxes folder itself a file: every box is out of reach, and left so, records and all.
    const boxesDir = path.join(home, 'boxes');
    fs.renameSync(boxesDir, path.join(tmp.dir, 'moved-boxes'));
    fs.writeFileSync(boxesDir, 'not a folder either');
    try {
      const out = boxkeep('recover');
      expect(out.code, out.err).toBe(0);
      expect((JSON.parse(out.out) as RecoveryReport).items.map((i) => i.message).join('\n')).toMatch(/The boxes folder .* is not a folder, so the box "dev" cannot be reached; Boxkeep left it and its record as they are/);
      expect(fs.readFileSync(boxesDir, 'utf8')).toBe('not a folder either');
      expect(ok<Box[]>('box', 'list').map((b) => b.name)).toEqual(['dev']);
    } finally {
      fs.rmSync(boxesDir);
      fs.renameSync(path.join(tmp.dir, 'moved-boxes'), boxesDir);
    }
  });
});

describe('recover --discard', () => {
  it('a record of an unknown operation names itself and the way out; discarding it frees the box and moves its leftovers to orphans/', () => {
    const id = unknownOperation();
    const refused = boxkeep('snapshot', 'create', 'dev', 'b');
    expect(refused.code).toBe(5);
    expect(errorOf(refused).message).toMatch(new RegExp(`snapshot-clone ${id}.*did not finish.*boxkeep recover`));

    const kept = ok<RecoveryReport>('recover');
    // Once, though both the opening of the home and the command itself found the record.
    expect(kept.items.filter((i) => i.message.includes(`"boxkeep recover --discard ${id}"`))).toHaveLength(1);

    const discarded = ok<RecoveryReport>('recover', '--discard', id);
    const text = discarded.items.map((i) => i.message).join('\n');
    expect(text).toMatch(new RegExp(`unfinished snapshot-clone ${id} of the box "dev" was discarded.*neither finished nor undone.*files were left as they were`));
    expect(fs.existsSync(path.join(boxJournal(), `${id}.json`))).toBe(false);
    // Its partial folder: no row knows it, so the checks at every opening moved it aside.
    const leftover = orphans().find((n) => n.endsWith('abcdefabcdef'))!;
    expect(fs.readFileSync(path.join(home, 'orphans', leftover, 'container.qcow2'), 'utf8')).toBe('half a clone');

    ok('snapshot', 'create', 'dev', 'b');
    expect(ok<RecoveryReport>('recover').items).toEqual([]);
  });

  it('refuses a record recovery knows how to settle unless --force, and an id no record has', () => {
    const id = stuckRemoval();
    const a = ok<{ snapshots: { diskPath: string }[] }>('snapshot', 'list', 'dev').snapshots[0]!;
    const digest = diskDigest(a.diskPath);

    const refused = boxkeep('recover', '--discard', id);
    expect(refused.code).toBe(5);
    expect(errorOf(refused).message).toMatch(/snapshot-remove, which recovery finishes by itself.*add --force/);
    expect(fs.existsSync(path.join(boxJournal(), `${id}.json`))).toBe(true);

    const missing = boxkeep('recover', '--discard', 'nosuchrecord');
    expect(missing.code).toBe(3);

    ok('recover', '--discard', id, '--force');
    expect(fs.existsSync(path.join(boxJournal(), `${id}.json`))).toBe(false);
    expect(diskDigest(a.diskPath)).toBe(digest);
    ok('snapshot', 'create', 'dev', 'b');
  });

  it('--force alone is a usage error', () => {
    const r = boxkeep('recover', '--force');
    expect(r.code).toBe(2);
    expect(errorOf(r).message).toMatch(/--force only goes with --discard/);
  });
});

describe('copies of a box with an unfinished operation', () => {
  it('a clone and an export are refused like every change, saying what is unfinished; after recover --discard both work', () => {
    const id = unknownOperation();
    for (const args of [['box', 'clone', 'dev', '--full', '--name', 'twin'], ['box', 'export', 'dev', '-o', path.join(path.dirname(home), 'dev.boxkeep')]]) {
      const r = boxkeep(...args);
      expect(r.code, `${args.join(' ')}: ${r.out}`).toBe(5);
      expect(errorOf(r)).toMatchObject({ code: 'InvalidState', message: expect.stringMatching(new RegExp(`snapshot-clone ${id}.*did not finish.*boxkeep recover`)) });
    }
    expect(ok<Box[]>('box', 'list').map((b) => b.name)).toEqual(['dev']);
    expect(fs.existsSync(path.join(path.dirname(home), 'dev.boxkeep'))).toBe(false);
    ok('recover', '--discard', id);
    expect(ok<Box>('box', 'clone', 'dev', '--full', '--name', 'twin').name).toBe('twin');
    ok('box', 'export', 'dev', '-o', path.join(path.dirname(home), 'dev.boxkeep'));
    expect(fs.statSync(path.join(path.dirname(home), 'dev.boxkeep')).size).toBeGreaterThan(0);
  });
});

describe('box start with an unfinished operation', () => {
  it('is refused like every other change, saying what is unfinished and to run recover', () => {
    const id = stuckRemoval();
    const r = boxkeep('box', 'start', 'dev');
    expect(r.code, r.out).toBe(5);
    expect(errorOf(r)).toMatchObject({ code: 'InvalidState', message: expect.stringMatching(new RegExp(`snapshot-remove ${id}.*did not finish.*boxkeep recover`)) });
    expect(ok<Box>('box', 'show', 'dev').status).toBe(box.status);
  });
});
