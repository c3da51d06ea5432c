// `boxkeep check` through the real bin: what a user sees on a healthy home and on one with a
// truncated snapshot (issue 8, 5c): the table, the JSON, the exit code, and that the other
// commands refuse the damaged chain while recover reports it.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport, Snapshot } from '../../shared/types.js';
import { makeQcow2, requireTools, tempHome, writePattern } from '../helpers/disk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'boxkeep.mjs');
const MiB = 1024 * 1024;

let tmp: { dir: string; cleanup(): void };
let home: string;

function boxkeep(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...args], { cwd: tmp.dir, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(...args: string[]): T {
  const r = boxkeep('--json', ...args);
  if (r.code !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

beforeAll(() => {
  requireTools('qemu-img', 'qemu-io');
  tmp = tempHome('bkchk');
  home = path.join(tmp.dir, 'home');
  makeQcow2(path.join(tmp.dir, 'seed.qcow2'), 16 * MiB);
  json('image', 'import', 'seed.qcow2', '--name', 'seed');
  const box = json<{ liveDiskPath: string }>('box', 'create', 'dev', '--image', 'seed');
  writePattern(box.liveDiskPath, MiB, MiB, 0x22);
  json('snapshot', 'create', 'dev', 's1');
  writePattern(box.liveDiskPath, 2 * MiB, MiB, 0x33);
  json('snapshot', 'create', 'dev', 's2');
});

afterAll(() => tmp?.cleanup());

describe('boxkeep check', () => {
  it('says all good on a healthy home and exits 0', () => {
    const r = boxkeep('check');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^All good: 4 disk layers of 1 box checked/);
    const report = json<CheckReport>('check', 'dev');
    expect(report).toMatchObject({ ok: true, damaged: 0 });
    expect(report.boxes[0]!.layers.map((l) => `${l.kind}:${l.name}`)).toEqual(['live:Now', 'snapshot:s1', 'snapshot:s2', 'image:seed']);
  });

  it('a layer frozen before facts were kept gets them from the next command, not only from recover', () => {
    const dbFile = path.join(home, 'boxkeep.db');
    const facts = () => {
      const db = new Database(dbFile, { readonly: true });
      try {
        return db.prepare("SELECT file_size, header_digest FROM snapshots WHERE name = 's2'").get() as { file_size: number | null; header_digest: string | null };
      } finally {
        db.close();
      }
    };
    const recorded = facts();
    expect(recorded.file_size).not.toBeNull();
    const db = new Database(dbFile);
    db.prepare("UPDATE snapshots SET file_size = NULL, header_digest = NULL WHERE name = 's2'").run();
    db.close();
    expect(boxkeep('box', 'list').code).toBe(0);
    expect(facts()).toEqual(recorded);
  });

  it('names a snapshot truncated to 100 KiB, exits 1, and the other commands refuse it', () => {
    const s1 = json<Snapshot>('snapshot', 'show', 'dev', 's1');
    const s2 = json<Snapshot>('snapshot', 'show', 'dev', 's2');
    fs.truncateSync(s1.diskPath, 100 * 1024);
    const child = crypto.createHash('sha256').update(fs.readFileSync(s2.diskPath)).digest('hex');

    const human = boxkeep('check');
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^1 damaged disk layer \(of 4\):/);
    expect(human.stdout).toMatch(/dev\s+snapshot\s+s1\s+it is 102400 bytes long but was \d+ bytes when it was frozen \(truncated\)/);

    const asJson = boxkeep('--json', 'check');
    expect(asJson.code).toBe(1);
    const report = JSON.parse(asJson.stdout) as CheckReport;
    expect(report.ok).toBe(false);
    expect(report.boxes[0]!.layers.filter((l) => !l.ok).map((l) => l.name)).toEqual(['s1']);

    const remove = boxkeep('snapshot', 'remove', 'dev', 's1');
    expect(remove.code).toBe(1);
    expect(remove.stderr).toMatch(/Snapshot "s1" of the box "dev" is not the disk Boxkeep made .*truncated.*boxkeep check/);
    expect(crypto.createHash('sha256').update(fs.readFileSync(s2.diskPath)).digest('hex')).toBe(child);

    const recover = boxkeep('recover');
    expect(recover.stdout).not.toMatch(/consistent/);
    expect(recover.stdout).toMatch(/s1/);
  });
});
