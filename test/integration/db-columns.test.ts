// The JSON columns of the database (store/columns.ts) read back checked: a value changed by
// hand into something Boxkeep did not write is a clear error naming the box and the column,
// and recovery keeps it in orphans/ and resets the column, so the home opens and every other
// box goes on as before.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { ProtectScheduler } from '../../electron/core/protect/scheduler.js';
import type { ProtectAlert } from '../../shared/events.js';
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

  it('a command that recovers only when needed sets such a value aside (as the CLI opens the home), its bytes as the database held them', async () => {
    const bad = await t.core.boxes.create({ name: 'bad', image: 'seed' });
    const empty = await t.core.boxes.create({ name: 'empty', image: 'seed' });
    const blob = await t.core.boxes.create({ name: 'blob', image: 'seed' });
    await t.core.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(t.dir, 'boxkeep.db'));
    // Not UTF-8: a damaged disk's bytes. An empty cloud-init reads as none, as the store reads it.
    db.prepare("UPDATE boxes SET forwards = CAST(X'5bff7b5d' AS TEXT) WHERE id = ?").run(bad.id);
    db.prepare("UPDATE boxes SET cloud_init = '' WHERE id = ?").run(empty.id);
    db.prepare("UPDATE boxes SET cloud_init = X'' WHERE id = ?").run(blob.id);
    db.close();

    t.core = await openCore({ home: t.dir, owner: 'cli', recovery: 'when-needed' });
    const items = t.core.lastRecovery!.items;
    expect(items.map((i) => [i.boxId, i.level])).toEqual([[bad.id, 'repaired']]);
    const kept = /kept in (\S+\.json)/.exec(items[0]!.message)![1]!;
    expect(fs.readFileSync(kept)).toEqual(Buffer.from([0x5b, 0xff, 0x7b, 0x5d]));
    expect(t.core.boxes.list().map((b) => [b.name, b.forwards, b.cloudInit]).sort()).toEqual([['bad', [], null], ['blob', [], null], ['empty', [], null]]);
  });

  it('a policy that does not read keeps no stop from happening and can be turned off', async () => {
    const box = await t.core.boxes.create({ name: 'bad', image: 'seed' });
    t.core.protect.set({ box: 'bad', everyMinutes: 60, beforeStop: true });
    t.core.store.db.prepare('UPDATE protect SET policy = ? WHERE box_id = ?').run('{"enabled": true, "beforeStop": "yes"}', box.id);
    const alerts: string[] = [];
    const off = t.core.events.on('protect:alert', (a) => alerts.push(a.message));
    try {
      expect(() => t.core.protect.status('bad')).toThrow(/AutoProtect policy the database keeps for the box .* cannot be read \(beforeStop: /);
      // The stop goes on (told with an alert when the box runs: none here, it is stopped).
      await expect(t.core.protect.beforeStop('bad')).resolves.toBe(false);
      expect(alerts).toEqual([]);
      expect(t.core.protect.set({ box: 'bad', off: true }).policy).toMatchObject({ enabled: false, everyMinutes: null, beforeStop: false });
      expect(t.core.protect.status('bad').policy.enabled).toBe(false);
    } finally {
      off();
    }
  });

  it('a box with cloud-init keeps to the limit of port forwards with its ssh forward', async () => {
    const given = (n: number) => Array.from({ length: n }, (_, i) => `${20000 + i}:${1000 + i}`);
    await expect(t.core.boxes.create({ name: 'full', image: 'seed', forwards: given(64), cloudInitUser: 'ada', cloudInitPassword: 'pw' }))
      .rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('give at most 63') });
    expect(t.core.boxes.list()).toEqual([]);
    const box = await t.core.boxes.create({ name: 'most', image: 'seed', forwards: given(63), cloudInitUser: 'ada', cloudInitPassword: 'pw' });
    expect(box.forwards).toHaveLength(64);
    expect(t.core.boxes.list()[0]!.forwards.filter((f) => f.guestPort === 22)).toHaveLength(1);
  });

  it('a state this version does not know reads as stopping until recovery looks for its QEMU; a network mode it does not know as no network', async () => {
    const box = await t.core.boxes.create({ name: 'odd', image: 'seed', forwards: ['18080:80'] });
    t.core.store.db.prepare("UPDATE boxes SET status = 'hibernated', network = 'bridge' WHERE id = ?").run(box.id);
    expect(t.core.boxes.list()).toMatchObject([{
      name: 'odd', status: 'stopping', network: 'none',
      failureReason: 'The database keeps the state "hibernated" for it, which this version of Boxkeep does not know; "boxkeep recover" (or the next start of Boxkeep) looks for its QEMU and records what it finds.',
    }]);
    // Nothing offline touches its disks meanwhile.
    await expect(t.core.snapshots.create({ box: 'odd', name: 's' })).rejects.toMatchObject({ code: 'InvalidState' });
    // Read, not rewritten.
    expect(t.core.store.db.prepare('SELECT status, network FROM boxes WHERE id = ?').get(box.id)).toEqual({ status: 'hibernated', network: 'bridge' });
    // A command that recovers only when needed (as the CLI opens the home) finds no QEMU: stopped.
    await t.core.close();
    t.core = await openCore({ home: t.dir, owner: 'cli', recovery: 'when-needed' });
    expect(t.core.lastRecovery!.items.map((i) => i.level)).toEqual(['repaired']);
    expect(t.core.boxes.list()).toMatchObject([{ name: 'odd', status: 'stopped' }]);
  });

  it("the schedule goes on for the other boxes when one box's policy or row stops reading while it runs, and tells that once", async () => {
    const [a, b, c] = [await t.core.boxes.create({ name: 'a', image: 'seed' }), await t.core.boxes.create({ name: 'b', image: 'seed' }), await t.core.boxes.create({ name: 'c', image: 'seed' })];
    for (const box of ['a', 'b', 'c']) t.core.protect.set({ box, everyMinutes: 10 });
    const { db } = t.core.store;
    // Box c was last seen running: a pass that reaches it (stopped now) stops its count.
    db.prepare('UPDATE protect SET seen_at = 1 WHERE box_id = ?').run(c.id);
    db.prepare('UPDATE protect SET policy = ? WHERE box_id = ?').run('{"enabled": true, "everyMinutes": 0}', a.id);
    db.prepare('UPDATE boxes SET forwards = ? WHERE id = ?').run('[1]', b.id);
    const seen: ProtectAlert[] = [];
    const off = t.core.events.on('protect:alert', (x) => seen.push(x));
    const s = new ProtectScheduler(t.core, { now: () => Date.now(), setTimeout: () => null, clearTimeout: () => {} });
    try {
      await s.tick();
      await s.tick();
    } finally {
      off();
      await s.stop();
    }
    expect((db.prepare('SELECT seen_at FROM protect WHERE box_id = ?').get(c.id) as { seen_at: number | null }).seen_at).toBeNull();
    expect(seen.map((x) => [x.box, x.kind, x.message.replace(/: .*/s, '')])).toEqual([
      ['a', 'failed', 'AutoProtect of "a" takes no snapshots until this is repaired'],
      ['b', 'failed', 'AutoProtect of "b" takes no snapshots until this is repaired'],
    ]);
    expect(seen[0]!.message).toContain(`AutoProtect policy the database keeps for the box ${a.id} cannot be read (everyMinutes: `);
    expect(seen[1]!.message).toContain(`port forwards the database keeps for the box ${b.id} cannot be read`);
  });
});
