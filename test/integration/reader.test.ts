// A home opened only to read (electron/core/reader.ts), as `box list`, `snapshot list` and
// `image list` open it when no owner runs: it must answer what the whole engine answers, hold
// the home while it reads, and give the home back untouched when there is anything to recover.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { openReader, type HomeReader } from '../../electron/core/reader.js';
import { READ_CHANNELS } from '../../electron/core/reads.js';
import { createRouter } from '../../electron/core/router.js';
import { rejection } from '../helpers/errors.js';
import { openTestHome, type TestHome } from '../helpers/core.js';
import { writePattern } from '../helpers/disk.js';

let t: TestHome;
let reader: HomeReader | null = null;
beforeEach(async () => {
  t = await openTestHome();
});
afterEach(async () => {
  reader?.close();
  reader = null;
  await t.cleanup();
});

/** Two boxes, one with a small tree (a branch, a description, data in a layer). */
async function furnish(): Promise<string> {
  const box = await t.core.boxes.create({ name: 'web', image: 'seed' });
  await t.core.boxes.create({ name: 'db', image: 'seed' });
  const a = await t.core.snapshots.create({ box: 'web', name: 'a', description: 'first' });
  writePattern(box.liveDiskPath, 0, 1024 * 1024, 0x5a);
  await t.core.snapshots.create({ box: 'web', name: 'b' });
  await t.core.snapshots.restore({ box: 'web', snapshot: a.id });
  await t.core.snapshots.create({ box: 'web', name: 'c' });
  return box.id;
}

/** What the whole engine answers on a read channel (or the error it gives), opened as the CLI opens it. */
async function engineAnswer(channel: string, input: unknown): Promise<unknown> {
  const core = await openCore({ home: t.dir, owner: 'cli', recovery: 'when-needed' });
  try {
    return await createRouter(core).invoke(channel as never, input).catch((err: Error) => ({ error: err.name, code: (err as { code?: string }).code, message: err.message }));
  } finally {
    await core.close();
  }
}

function readerAnswer(channel: string, input: unknown): unknown {
  const r = openReader(t.dir);
  expect(r).not.toBeNull();
  try {
    return r!.invoke(channel, input);
  } catch (err) {
    return { error: (err as Error).name, code: (err as { code?: string }).code, message: (err as Error).message };
  } finally {
    r!.close();
  }
}

describe('a home opened for reading', () => {
  it('answers every read channel exactly as the engine does, errors included', async () => {
    const boxId = await furnish();
    await t.core.close();
    const inputs: [string, unknown][] = [
      ['boxes:list', {}], ['images:list', {}], ['snapshots:list', { box: 'web' }], ['snapshots:list', { box: boxId }], ['snapshots:list', { box: 'db' }],
      ['snapshots:list', { box: 'nobox' }], ['snapshots:list', {}], ['boxes:list', { extra: 1 }], ['images:list', []],
    ];
    expect(new Set(inputs.map(([c]) => c))).toEqual(new Set(READ_CHANNELS));
    for (const [channel, input] of inputs) {
      const expected = await engineAnswer(channel, input);
      expect(readerAnswer(channel, input), `${channel} ${JSON.stringify(input)}`).toEqual(expected);
    }
    const tree = readerAnswer('snapshots:list', { box: 'web' }) as { snapshots: { name: string; sizeOnDisk: number }[] };
    expect(tree.snapshots.map((s) => s.name).sort()).toEqual(['a', 'b', 'c']);
    expect(tree.snapshots.find((s) => s.name === 'b')!.sizeOnDisk).toBeGreaterThan(1024 * 1024);
  });

  it('refuses any channel that is not a read one, changing nothing', async () => {
    await furnish();
    await t.core.close();
    reader = openReader(t.dir);
    const err = await rejection(() => reader!.invoke('boxes:remove', { box: 'db' }));
    expect(err.code).toBe('Internal');
    expect(err.message).toContain('boxes:remove is not one of the read channels');
    expect((reader!.invoke('boxes:list', {}) as { name: string }[]).map((b) => b.name).sort()).toEqual(['db', 'web']);
  });

  it('holds the home while it reads: the engine is refused, then opens once the reader is closed', async () => {
    await t.core.close();
    reader = openReader(t.dir);
    const refused = await rejection(openCore({ home: t.dir, owner: 'test' }));
    expect(refused.message).toMatch(/in use by another boxkeep command|Another command is changing/);
    reader!.close();
    reader = null;
    t.core = await openCore({ home: t.dir, owner: 'test' });
    expect(t.core.boxes.list()).toEqual([]);
  });

  it('gives the home back untouched when an intent record waits, so the engine recovers first', async () => {
    const box = await t.core.boxes.create({ name: 'web', image: 'seed' });
    await t.core.close();
    const journal = path.join(t.dir, 'boxes', box.id, 'journal');
    fs.mkdirSync(journal, { recursive: true });
    fs.writeFileSync(path.join(journal, 'garbage.json'), '{"op": "snapshot-cre');
    expect(openReader(t.dir)).toBeNull();
    expect(fs.readdirSync(journal)).toEqual(['garbage.json']);
    // The home was given back: the engine takes it and deals with the record.
    t.core = await openCore({ home: t.dir, owner: 'cli', recovery: 'when-needed' });
    expect(t.core.lastRecovery!.items.map((i) => i.message).join('\n')).toContain('garbage.json');
  });

  it('gives the home back when a box is recorded as running, for the engine to adopt or retire it', async () => {
    const box = await t.core.boxes.create({ name: 'web', image: 'seed' });
    t.core.store.setBoxStatus(box.id, 'running');
    await t.core.close();
    expect(openReader(t.dir)).toBeNull();
    t.core = await openCore({ home: t.dir, owner: 'cli', recovery: 'when-needed' });
    expect(t.core.boxes.list()[0]!.status).not.toBe('running');
  });
});
