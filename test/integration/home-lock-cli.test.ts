// End to end through the real `boxkeep` bin: two commands that change the same box, started at
// the same moment, never lose a snapshot. Each one either runs or is refused as busy (exit 5).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotTree } from '../../shared/types.js';
import { cli } from '../helpers/cli.js';
import { makeQcow2, requireTools, tempHome, writePattern } from '../helpers/disk.js';

const CHUNK = 64 * 1024;
const ROUNDS = 24;

let tmp: { dir: string; cleanup(): void };
let home: string;

const boxkeep = (...args: string[]) => cli(home, args);

async function ok<T>(...args: string[]): Promise<T> {
  const r = await boxkeep(...args);
  if (r.code !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.data as T;
}

/** qemu-img check passes and every chunk reads back its byte: one qemu-io for all of them. */
function readsBack(file: string, chunks: Array<{ offset: number; byte: number }>): string | null {
  const check = spawnSync('qemu-img', ['check', '-q', file], { encoding: 'utf8' });
  if (check.status !== 0) return `qemu-img check: ${(check.stderr || check.stdout).trim()}`;
  const args = ['-r', '-f', 'qcow2', ...chunks.flatMap((c) => ['-c', `read -P ${c.byte} ${c.offset} ${CHUNK}`]), file];
  const read = spawnSync('qemu-io', args, { encoding: 'utf8' });
  if (read.status !== 0 || /fail|error/i.test(read.stdout + read.stderr)) return `qemu-io: ${(read.stderr || read.stdout).trim().split('\n')[0]}`;
  return null;
}

beforeAll(async () => {
  requireTools('qemu-img', 'qemu-io');
  tmp = tempHome('bkrace');
  home = path.join(tmp.dir, 'home');
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, 16 * 1024 * 1024);
  await ok('image', 'import', seed, '--name', 'seed');
  await ok('box', 'create', 'b', '--image', 'seed');
});
afterAll(() => tmp?.cleanup());

describe('two CLI commands racing on one box', () => {
  it(`snapshot remove X racing snapshot create Y never loses a snapshot (${ROUNDS} rounds)`, async () => {
    const live = (await ok<{ liveDiskPath: string }>('box', 'show', 'b')).liveDiskPath;
    // What each snapshot must read back: every chunk written to the live disk before it was taken.
    const written: Array<{ offset: number; byte: number }> = [];
    const expected = new Map<string, Array<{ offset: number; byte: number }>>();
    const write = (i: number, half: number) => {
      const chunk = { offset: (2 * i + half) * CHUNK, byte: 1 + ((2 * i + half) % 250) };
      writePattern(live, chunk.offset, CHUNK, chunk.byte);
      written.push(chunk);
    };
    const outcomes: string[] = [];
    const problems: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      write(i, 0);
      await ok('snapshot', 'create', 'b', `x${i}`);
      expected.set(`x${i}`, [...written]);
      write(i, 1);
      const [removed, created] = await Promise.all([boxkeep('snapshot', 'remove', 'b', `x${i}`), boxkeep('snapshot', 'create', 'b', `y${i}`)]);
      for (const [what, r] of [['remove', removed], ['create', created]] as const) {
        if (r.code === 0) continue;
        if (r.code !== 5 || r.error?.code !== 'InvalidState') problems.push(`round ${i}: ${what} exited ${r.code}: ${r.stderr.trim()}`);
      }
      if (created.code === 0) expected.set(`y${i}`, [...written]);
      outcomes.push(`${removed.code}/${created.code}`);

      const tree = await ok<SnapshotTree>('snapshot', 'list', 'b');
      for (const s of tree.snapshots) {
        const broken = readsBack(s.diskPath, expected.get(s.name) ?? []);
        if (broken) problems.push(`round ${i}: snapshot ${s.name} does not read back: ${broken}`);
      }
      const names = tree.snapshots.map((s) => s.name);
      if (created.code === 0 && !names.includes(`y${i}`)) problems.push(`round ${i}: create said ok but y${i} is not listed`);
      if (removed.code !== 0 && !names.includes(`x${i}`)) problems.push(`round ${i}: remove was refused but x${i} is gone`);
      const liveBroken = readsBack(live, written);
      if (liveBroken) problems.push(`round ${i}: the live disk does not read back: ${liveBroken}`);
      if (problems.length > 0) break;
    }
    expect(problems).toEqual([]);
    expect(outcomes).toHaveLength(ROUNDS);
  });
});
