// `--home` never changes a folder Boxkeep did not make: what the real `boxkeep` bin does to the
// modes and files of the folder it is pointed at.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempHome } from '../helpers/disk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'boxkeep.mjs');

let tmp: { dir: string; cleanup(): void };
beforeAll(() => {
  tmp = tempHome('bkfold');
});
afterAll(() => tmp?.cleanup());

function boxkeep(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--home', home, '--json', ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  const error = r.status === 0 ? null : (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
  return { code: r.status, stdout: r.stdout, error };
}

const mode = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8);
const folder = (name: string, m: number, files: Record<string, string> = {}) => {
  const dir = path.join(tmp.dir, name);
  fs.mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  fs.chmodSync(dir, m);
  return dir;
};

describe('--home on an existing folder', () => {
  it('refuses a shared 1777 folder holding other files, on a read-only command, and changes nothing', () => {
    const shared = folder('shared-tmp', 0o1777, { 'someone-elses.txt': 'keep me' });
    const r = boxkeep(shared, 'box', 'list');
    expect(r.code).toBe(2);
    expect(r.error?.code).toBe('InvalidArgument');
    expect(r.error?.message).toContain(`${shared} is not a Boxkeep home`);
    expect(r.error?.message).toContain('someone-elses.txt');
    expect(r.error?.message).toContain('--home');
    expect(mode(shared)).toBe('1777');
    expect(fs.readdirSync(shared)).toEqual(['someone-elses.txt']);
    expect(fs.readFileSync(path.join(shared, 'someone-elses.txt'), 'utf8')).toBe('keep me');
  });

  it('refuses an empty folder with the sticky bit (a shared folder) and leaves its mode alone', () => {
    const shared = folder('empty-sticky', 0o1777);
    const r = boxkeep(shared, 'info');
    expect(r.code).toBe(2);
    expect(r.error?.message).toContain('shared folder');
    expect(mode(shared)).toBe('1777');
    expect(fs.readdirSync(shared)).toEqual([]);
  });

  it('tightens a home Boxkeep made whose mode was loosened', () => {
    const home = path.join(tmp.dir, 'made');
    expect(boxkeep(home, 'box', 'list').code).toBe(0);
    expect(mode(home)).toBe('700');
    fs.chmodSync(home, 0o755);
    const r = boxkeep(home, 'box', 'list');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(mode(home)).toBe('700');
  });

  it('uses a private folder of the user\'s own holding other files without changing its mode or files', () => {
    const own = folder('own-private', 0o700, { 'seed.qcow2': 'mine' });
    const r = boxkeep(own, 'box', 'list');
    expect(r.code, r.error?.message).toBe(0);
    expect(mode(own)).toBe('700');
    expect(fs.readFileSync(path.join(own, 'seed.qcow2'), 'utf8')).toBe('mine');
    const loose = folder('own-loose', 0o755, { 'notes.txt': 'mine' });
    expect(boxkeep(loose, 'box', 'list').error?.message).toContain(`${loose} is not a Boxkeep home`);
    expect(mode(loose)).toBe('755');
    expect(fs.readdirSync(loose)).toEqual(['notes.txt']);
    // A journal/ of the user's own would be read as Boxkeep's records: refused, nothing moved.
    const diary = folder('own-diary', 0o700, { 'readme.txt': 'mine' });
    fs.mkdirSync(path.join(diary, 'journal'));
    fs.writeFileSync(path.join(diary, 'journal', 'today.json'), '{"mood":"good"}');
    expect(boxkeep(diary, 'box', 'list').error?.message).toContain('beside names Boxkeep uses (journal)');
    expect(fs.readFileSync(path.join(diary, 'journal', 'today.json'), 'utf8')).toBe('{"mood":"good"}');
  });

  it('adopts an empty folder the user made for it, as a private home', () => {
    const home = folder('empty', 0o755);
    expect(boxkeep(home, 'box', 'list').code).toBe(0);
    expect(mode(home)).toBe('700');
    expect(fs.existsSync(path.join(home, 'boxkeep.db'))).toBe(true);
  });

  it("refuses another user's folder, even a Boxkeep home, and leaves it as it was", () => {
    if (process.getuid?.() !== 0) throw new Error('this test makes a folder owned by another user and must run as root');
    const theirs = path.join(tmp.dir, 'theirs');
    expect(boxkeep(theirs, 'box', 'list').code).toBe(0);
    fs.chmodSync(theirs, 0o755);
    fs.chownSync(theirs, 65534, 65534);
    const r = boxkeep(theirs, 'box', 'list');
    expect(r.code).toBe(5);
    expect(r.error?.code).toBe('InvalidState');
    expect(r.error?.message).toContain('belongs to another user (uid 65534)');
    expect(mode(theirs)).toBe('755');
    expect(fs.statSync(theirs).uid).toBe(65534);
  });
});
