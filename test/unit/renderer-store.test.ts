// The renderer's store against the real engine: a core on a temporary home (real SQLite, real
// qemu-img) behind the real router, bridged in-process exactly like the preload or WebSocket.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApi, type BoxkeepBridge } from '../../shared/client.js';
import { openCore, type Core } from '../../electron/core/core.js';
import type { Router } from '../../shared/transport.js';
import { createRouter } from '../../electron/core/router.js';
import { createApp, type App } from '../../renderer/src/store/app.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';

interface Rig {
  core: Core;
  router: Router;
  app: App;
  calls: string[];
  boxId: string;
  cleanup(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const tmp = tempHome('bkr');
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, 32 * 1024 * 1024);
  const core = await openCore({ home: path.join(tmp.dir, 'home'), owner: 'test' });
  const router = createRouter(core);
  const image = await core.images.import({ path: seed, name: 'seed' });
  fs.rmSync(seed);
  const box = await core.boxes.create({ name: 'alpha', image: image.id });
  const calls: string[] = [];
  const bridge: BoxkeepBridge = Object.assign(
    createApi((channel, input) => {
      calls.push(channel);
      return router.invoke(channel, input);
    }),
    { on: router.on, desktop: false },
  );
  const app = createApp(bridge);
  return {
    core, router, app, calls, boxId: box.id,
    async cleanup() {
      app.dispose();
      await core.close();
      tmp.cleanup();
    },
  };
}

let r: Rig;
beforeAll(() => requireTools('qemu-img'));
beforeEach(async () => {
  r = await rig();
  await r.app.sync.start();
});
afterEach(async () => r.cleanup());

const state = () => r.app.store.getState();
const tree = () => state().trees[r.boxId]!;
const names = () => tree().snapshots.map((s) => s.name);
const lastToast = () => state().toasts.at(-1);

describe('renderer store on the real engine', () => {
  it('the first load shows the box, its detail and its tree, with Now selected', () => {
    const s = state();
    expect(s.connection).toBe('ready');
    expect(s.boxes.map((b) => b.name)).toEqual(['alpha']);
    expect(s.images.map((i) => i.name)).toEqual(['seed']);
    expect(s.selectedBoxId).toBe(r.boxId);
    expect(s.details[r.boxId]!.image?.name).toBe('seed');
    expect(tree()).toEqual({ boxId: r.boxId, currentId: null, snapshots: [] });
    expect(s.selectedRow[r.boxId]).toBe('now');
    expect(s.recovery).toBeNull();
  });

  it('taking a snapshot updates the tree through the event and selects the new snapshot', async () => {
    const out = await r.app.actions.takeSnapshot(r.boxId, 'clean install', 'fresh from the image');
    expect(out.ok).toBe(true);
    await r.app.sync.idle();
    expect(names()).toEqual(['clean install']);
    expect(tree().currentId).toBe(tree().snapshots[0]!.id);
    expect(tree().snapshots[0]!.description).toBe('fresh from the image');
    expect(state().selectedRow[r.boxId]).toBe(tree().snapshots[0]!.id);
    expect(state().details[r.boxId]!.snapshotCount).toBe(1);
    expect(lastToast()).toMatchObject({ kind: 'success', message: 'Took snapshot “clean install”.' });
    expect(state().pending).toEqual({});
  });

  it('a reload keeps the objects of unchanged snapshots, so the tree redraws only what changed', async () => {
    await r.app.actions.takeSnapshot(r.boxId, 'first', '');
    await r.app.sync.idle();
    const first = tree().snapshots[0]!;
    await r.app.actions.takeSnapshot(r.boxId, 'second', '');
    await r.app.sync.idle();
    expect(names()).toEqual(['first', 'second']);
    expect(tree().snapshots[0]).toBe(first);
    // An event that changes nothing leaves the tree object itself alone.
    const same = tree();
    r.core.events.emit('snapshots:changed', { boxId: r.boxId });
    await r.app.sync.idle();
    expect(tree()).toBe(same);
  });

  it('changes made by someone else (the CLI through the router) arrive by event, not by asking', async () => {
    await r.router.invoke('snapshots:create', { box: 'alpha', name: 'from the cli' });
    await r.app.sync.idle();
    expect(names()).toEqual(['from the cli']);

    // Quiet engine: the store asks nothing while nothing happens.
    const before = r.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(r.calls.length).toBe(before);
  });

  it('an image imported or removed elsewhere (the CLI through the router) shows up by event', async () => {
    const file = path.join(path.dirname(r.core.paths.root), 'other.qcow2');
    makeQcow2(file, 16 * 1024 * 1024);
    const before = r.calls.filter((c) => c === 'images:list').length;
    await r.router.invoke('images:import', { path: file, name: 'other' });
    await r.app.sync.idle();
    expect(state().images.map((i) => i.name)).toEqual(['seed', 'other']);
    await r.router.invoke('images:remove', { image: 'other' });
    await r.app.sync.idle();
    expect(state().images.map((i) => i.name)).toEqual(['seed']);
    // One reload per change, asked for by nobody but the event.
    expect(r.calls.filter((c) => c === 'images:list').length - before).toBe(2);
  });

  it('a bad name comes back as the main process worded it, for the dialog to show, without a toast', async () => {
    const toasts = state().toasts.length;
    const out = await r.app.actions.takeSnapshot(r.boxId, '.hidden', '');
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error.code).toBe('InvalidArgument');
    expect(out.error.message).toBe('The snapshot name ".hidden" starts with "."; snapshot names may not start with a dot.');
    expect(state().toasts.length).toBe(toasts);
    expect(state().pending).toEqual({});
  });

  it('deleting a middle snapshot re-parents its child and says how much it freed', async () => {
    for (const name of ['a', 'b', 'c']) expect((await r.app.actions.takeSnapshot(r.boxId, name, '')).ok).toBe(true);
    await r.app.sync.idle();
    const [a, b, c] = tree().snapshots;
    expect(c!.parentId).toBe(b!.id);
    r.app.actions.selectRow(r.boxId, b!.id);

    const out = await r.app.actions.deleteSnapshot(r.boxId, b!.id);
    expect(out.ok).toBe(true);
    await r.app.sync.idle();
    expect(names()).toEqual(['a', 'c']);
    expect(tree().snapshots[1]!.parentId).toBe(a!.id);
    expect(lastToast()!.message).toMatch(/^Deleted “b” and freed [\d.]+ (bytes|KiB|MiB)\. “c” now follows “a”\.$/);
    // The selection moves to the deleted snapshot's parent instead of vanishing.
    expect(state().selectedRow[r.boxId]).toBe(a!.id);
  });

  it('restoring with "snapshot current first" keeps the current state as a new snapshot', async () => {
    await r.app.actions.takeSnapshot(r.boxId, 'one', '');
    await r.app.actions.takeSnapshot(r.boxId, 'two', '');
    await r.app.sync.idle();
    const one = tree().snapshots.find((s) => s.name === 'one')!;

    const out = await r.app.actions.restoreSnapshot(r.boxId, one.id, { snapshotCurrentFirst: true, stopFirst: false, startAfter: false });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    await r.app.sync.idle();
    expect(out.value.savedSnapshot).not.toBeNull();
    expect(tree().currentId).toBe(one.id);
    expect(tree().snapshots).toHaveLength(3);
    expect(lastToast()!.message).toBe(`alpha is back at “one”. The state before was saved as “${out.value.savedSnapshot!.name}”.`);

    const plain = await r.app.actions.restoreSnapshot(r.boxId, one.id, { snapshotCurrentFirst: false, stopFirst: false, startAfter: false });
    expect(plain.ok && plain.value.savedSnapshot).toBeNull();
    await r.app.sync.idle();
    expect(tree().snapshots).toHaveLength(3);
  });

  it('a burst of events is folded into a few reloads, and the last answer wins', async () => {
    const before = r.calls.filter((c) => c === 'snapshots:list').length;
    for (let i = 0; i < 20; i++) r.core.events.emit('snapshots:changed', { boxId: r.boxId });
    await r.router.invoke('snapshots:create', { box: r.boxId, name: 'last' });
    await r.app.sync.idle();
    const reloads = r.calls.filter((c) => c === 'snapshots:list').length - before;
    expect(reloads).toBeGreaterThanOrEqual(1);
    // 22 events (20 + the create's two); one load in flight plus one folded re-run per wave.
    expect(reloads).toBeLessThanOrEqual(5);
    expect(names()).toEqual(['last']);
  });

  it('removing the shown box forgets it and shows the next one', async () => {
    const image = state().images[0]!;
    const beta = await r.router.invoke('boxes:create', { name: 'beta', image: image.id });
    await r.app.sync.idle();
    expect(state().boxes.map((b) => b.name)).toEqual(['alpha', 'beta']);

    const out = await r.app.actions.removeBox(r.boxId);
    expect(out.ok).toBe(true);
    await r.app.sync.idle();
    expect(state().boxes.map((b) => b.name)).toEqual(['beta']);
    expect(state().selectedBoxId).toBe((beta as { id: string }).id);
    expect(state().details[r.boxId]).toBeUndefined();
    expect(state().trees[r.boxId]).toBeUndefined();
    expect(lastToast()!.message).toMatch(/^Removed alpha and freed /);
  });

  it('an error from a quick action becomes a toast with the engine’s advice', async () => {
    const out = await r.app.actions.resumeBox(r.boxId);
    expect(out.ok).toBe(false);
    expect(lastToast()).toMatchObject({ kind: 'error' });
    expect(lastToast()!.message.length).toBeGreaterThan(10);
    expect(state().pending).toEqual({});
  });

  it('task progress events show while running and disappear when done', () => {
    const task = { taskId: 't1', kind: 'snapshot-remove' as const, boxId: r.boxId, fraction: 0.4, message: 'Merging', done: false, error: null };
    r.core.events.emit('tasks:progress', task);
    expect(state().tasks.t1).toMatchObject({ fraction: 0.4 });
    r.core.events.emit('tasks:progress', { ...task, fraction: 1, done: true });
    expect(state().tasks.t1).toBeUndefined();
  });

  it('a recovery report arriving after startup is shown until dismissed', () => {
    r.core.events.emit('recovery:report', { at: Date.now(), elapsedMs: 3, items: [{ level: 'repaired', boxId: r.boxId, message: 'Removed a half-made overlay.' }] });
    expect(state().recovery?.items[0]!.message).toBe('Removed a half-made overlay.');
    r.app.actions.dismissRecovery();
    expect(state().recovery).toBeNull();
  });
});

describe('renderer store and AutoProtect', () => {
  it('loads the box\'s AutoProtect status with its detail; the preset turns it on and off again', async () => {
    expect(state().protect[r.boxId]!.policy.enabled).toBe(false);
    const on = await r.app.actions.setProtect({ box: r.boxId, preset: true });
    expect(on.ok).toBe(true);
    await r.app.sync.idle();
    expect(state().protect[r.boxId]!.policy).toMatchObject({ enabled: true, everyMinutes: 60, keepDaily: 7 });
    expect(lastToast()).toMatchObject({ kind: 'success', message: 'AutoProtect is on for alpha.' });
    // Set elsewhere (the CLI through the router): the event reloads it.
    await r.router.invoke('protect:set', { box: 'alpha', off: true });
    await new Promise((res) => setTimeout(res, 50));
    await r.app.sync.idle();
    expect(state().protect[r.boxId]!.policy.enabled).toBe(false);
  });

  it('pinning a snapshot shows in its tree row at once through the event; an AutoProtect alert becomes a toast', async () => {
    await r.app.actions.takeSnapshot(r.boxId, 'keep me', '');
    await r.app.sync.idle();
    const id = tree().snapshots[0]!.id;
    expect(tree().snapshots[0]).toMatchObject({ pinned: false, auto: false });
    const out = await r.app.actions.pinSnapshot(r.boxId, id, true);
    expect(out.ok).toBe(true);
    await r.app.sync.idle();
    expect(tree().snapshots[0]!.pinned).toBe(true);
    expect(lastToast()).toMatchObject({ kind: 'success', message: 'Pinned “keep me”: AutoProtect never removes it.' });
    r.core.events.emit('protect:alert', { boxId: r.boxId, box: 'alpha', kind: 'paused', message: 'AutoProtect of "alpha" is paused: the disk is full.' });
    expect(lastToast()).toMatchObject({ kind: 'error', message: 'AutoProtect of "alpha" is paused: the disk is full.' });
  });
});
