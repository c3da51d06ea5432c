// Quitting with boxes running: the question asked, and what each answer does.
import { describe, expect, it } from 'vitest';
import { BoxkeepError } from '../../shared/errors.js';
import type { Box, BoxStatus } from '../../shared/types.js';
import { decideQuit, quitQuestion, type QuitChoice, type QuitQuestion } from '../../electron/shell/quit.js';

const box = (name: string, status: BoxStatus): Box => ({
  id: `id-${name}`, name, imageId: 'img', status, failureReason: null, cpus: 1, memoryMib: 256, diskSize: 1, currentSnapshotId: null, liveDiskPath: '/x', createdAt: 0, installerImageId: null,
  network: 'nat', forwards: [], macAddress: '52:54:00:00:00:01', stopTimeoutSec: 20, pendingRestart: false, stopDeadline: null, pendingDiskSize: null, cloudInit: null, display: 'none', firmware: 'bios', installedFrom: null, linkedSnapshotId: null,
});

/** The engine's boxes verbs over a fixed list; stop() fails for the names in `refuse`. */
function engine(boxes: Box[], refuse: string[] = []) {
  const stopped: string[] = [];
  const api = {
    boxes: {
      list: async () => boxes,
      stop: async ({ box: id }: { box: string }) => {
        const b = boxes.find((x) => x.id === id)!;
        if (refuse.includes(b.name)) throw new BoxkeepError('Vm', `QEMU for ${b.name} did not exit within 30 s; stop it with force.`);
        stopped.push(id);
        return { ...b, status: 'stopped' as const };
      },
    },
  };
  return { api: api as never, stopped };
}

function answering(choice: QuitChoice) {
  const asked: QuitQuestion[] = [];
  return { asked, ask: async (q: QuitQuestion) => (asked.push(q), choice) };
}

describe('quit with running boxes', () => {
  it('quits at once, asking nothing, when no box is running or paused', async () => {
    const e = engine([box('a', 'stopped'), box('b', 'configured'), box('c', 'failed')]);
    const user = answering('cancel');
    expect(await decideQuit({ api: e.api, ask: user.ask })).toEqual({ quit: true, stopped: [], kept: [], failures: [] });
    expect(user.asked).toEqual([]);
  });

  it('asks about the running and paused boxes by name', () => {
    const q = quitQuestion([box('web', 'running'), box('db', 'paused')]);
    expect(q.message).toBe('2 boxes are still running.');
    expect(q.detail).toContain('web, db: they can be stopped now, or keep running in the background');
    expect(q.buttons).toEqual(['Stop them and quit', 'Keep running and quit', 'Cancel']);
    expect(q.choices[q.cancelId]).toBe('cancel');
    expect(q.choices[q.defaultId]).toBe('stop');
    const one = quitQuestion([box('web', 'running')]);
    expect(one.message).toBe('web is still running.');
    expect(one.buttons[0]).toBe('Stop it and quit');
    const many = quitQuestion(Array.from({ length: 8 }, (_, i) => box(`b${i}`, 'running')));
    expect(many.detail).toContain('b0, b1, b2, b3, b4 and 3 more');
  });

  it('stops every active box and quits when asked to stop them', async () => {
    const e = engine([box('web', 'running'), box('db', 'paused'), box('old', 'stopped')]);
    const user = answering('stop');
    const out = await decideQuit({ api: e.api, ask: user.ask });
    expect(out).toEqual({ quit: true, stopped: ['id-web', 'id-db'], kept: [], failures: [] });
    expect(e.stopped.sort()).toEqual(['id-db', 'id-web']);
  });

  it('leaves them running for the next start to adopt when asked to keep them', async () => {
    const e = engine([box('web', 'running')]);
    const out = await decideQuit({ api: e.api, ask: answering('keep').ask });
    expect(out).toEqual({ quit: true, stopped: [], kept: ['id-web'], failures: [] });
    expect(e.stopped).toEqual([]);
  });

  it('does not quit when cancelled', async () => {
    const e = engine([box('web', 'running')]);
    expect(await decideQuit({ api: e.api, ask: answering('cancel').ask })).toMatchObject({ quit: false });
    expect(e.stopped).toEqual([]);
  });

  it('does not quit when a box refuses to stop, and says which and why', async () => {
    const e = engine([box('web', 'running'), box('stuck', 'running')], ['stuck']);
    const out = await decideQuit({ api: e.api, ask: answering('stop').ask });
    expect(out.quit).toBe(false);
    expect(out.stopped).toEqual(['id-web']);
    expect(out.failures).toEqual([{ boxId: 'id-stuck', name: 'stuck', message: 'QEMU for stuck did not exit within 30 s; stop it with force.' }]);
  });
});
