// The JSON columns of the database (store/columns.ts) read back checked: a value changed by
// hand into something Boxkeep did not write is a clear error naming the box and the column,
// and recovery keeps it in orphans/ and resets the column, so the home opens and every other
// box goes on as before.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { openTestHome, type TestHome } from '../helpers/core.js';

let t: TestHome;
beforeEach(async () => { t = await openTestHome(); });
afterEach(async () => { await t.cleanup(); });

const GOOD_CLOUD_INIT = JSON.stringify({ user: 'dev', sshKeys: [], hostname: 'good', passwordHash: null });

describe('JSON columns of the database', () => {
  it('names the box and the column when a value does not read, and changes nothing', async () => {
    const bad = await t.core.boxes.create({ name: 'bad', image: 'seed', forwards: ['18080:80'] });
    const { db } = t.core.store;
    db.prepare('UPDATE boxes SET forwards = ? WHERE id = ?').run('[{"hostAddress":"127.0.0.1","hostPort":0,"guestPort":80,"protocol":"tcp"}]', bad.id);
    let err: unknown;
    try { t.core.boxes.list(); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: 'Storage' });
    expect((err as Error).message).toContain(`port forwards the database keeps for the box ${bad.id} cannot be read`);
    expect((err as Error).message).toContain('has the host port "0"');
    // Nothing rewritten by the read.
    expect((db.prepare('SELECT forwards FROM boxes WHERE id = ?').get(bad.id) as { forwards: string }).forwards).toContain('"hostPort":0');

    db.prepare('UPDATE boxes SET forwards = ?, cloud_init = ? WHERE id = ?').run('[]', '{"user": 7}', bad.id);
    expect(() => t.core.boxes.list()).toThrow(/cloud-init settings the database keeps for the box .* cannot be read \(user: /);
  });

  it('recovery keeps each value that does not read in orphans/, resets it, and leaves the other boxes as they were', async () => {
    const bad = await t.core.boxes.create({ name: 'bad', image: 'seed', forwards: ['18080:80'] });
    const good = await t.core.boxes.create({ name: 'good', image: 'seed', forwards: ['2222:22'] });
    t.core.protect.set({ box: 'bad', everyMinutes: 60 });
    t.core.protect.set({ box: 'good', everyMinutes: 30, keepLast: 3 });
    await t.core.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(t.dir, 'boxkeep.db'));
    const raws = { forwards: '[{"hostPort": 8080', cloud_init: '{"user":"dev","sshKeys":"not a list","hostname":"x","passwordHash":null}', policy: '{"enabled": true, "keepLast": "five"}' };
    db.prepare('UPDATE boxes SET forwards = ?, cloud_init = ? WHERE id = ?').run(raws.forwards, raws.cloud_init, bad.id);
    db.prepare('UPDATE boxes SET cloud_init = ? WHERE id = ?').run(GOOD_CLOUD_INIT, good.id);
    db.prepare('UPDATE protect SET policy = ? WHERE box_id = ?').run(raws.policy, bad.id);
    db.close();

    t.core = await openCore({ home: t.dir, owner: 'test' });
    const items = t.core.lastRecovery!.items;
    expect(items.filter((i) => i.boxId === bad.id && i.level === 'repaired').map((i) => i.message.split(' the database')[0])).toEqual(
      ['The port forwards', 'The cloud-init settings', 'The AutoProtect policy'],
    );
    expect(items.every((i) => i.boxId === bad.id), JSON.stringify(items)).toBe(true);
    // Each value kept byte for byte, where the report says.
    for (const [column, raw] of Object.entries(raws)) {
      const item = items.find((i) => i.message.includes(`-box-${bad.id}-${column}.json`))!;
      const kept = /kept in (\S+\.json)/.exec(item.message)![1]!;
      expect(path.dirname(kept)).toBe(path.join(t.dir, 'orphans'));
      expect(fs.readFileSync(kept, 'utf8')).toBe(raw);
    }
    const boxes = t.core.boxes.list();
    expect(boxes.find((b) => b.id === bad.id)).toMatchObject({ forwards: [], cloudInit: null });
    expect(t.core.protect.status('bad').policy.enabled).toBe(false);
    expect(boxes.find((b) => b.id === good.id)).toMatchObject({
      forwards: [{ hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22, protocol: 'tcp' }],
      cloudInit: { user: 'dev', sshKeys: [], hostname: 'good', password: false },
    });
    expect(t.core.protect.status('good').policy).toMatchObject({ enabled: true, everyMinutes: 30, keepLast: 3 });

    // Healthy now: the next start reports nothing.
    await t.core.close();
    t.core = await openCore({ home: t.dir, owner: 'test' });
    expect(t.core.lastRecovery!.items).toEqual([]);
  });
});
