// Keeps the store in step with the main process: the first load, then one reload per event.
// The UI never asks "did anything change?"; it is told, through the bridge's events.
//
// Answers that change nothing keep the previous objects, so a burst of events does not
// re-render (or re-lay-out a 1,000-snapshot tree) for nothing.
import type { BoxkeepBridge } from '../../../shared/client.js';
import type { Box, BoxDetail, Snapshot, SnapshotTree } from '../../../shared/types.js';
import { Coalescer } from './coalesce.js';
import { asBoxkeepError, errorText } from './errors.js';
import { without, type AppStore } from './state.js';
import { pushToast } from './toasts.js';

export interface Sync {
  /** Subscribes to events, then loads everything the first screen needs. */
  start(): Promise<void>;
  loadBoxes(): Promise<void>;
  loadImages(): Promise<void>;
  /** Detail and snapshot tree of one box. */
  loadBox(boxId: string): Promise<void>;
  loadConsole(boxId: string, lines?: number): Promise<void>;
  /** The system info, with the home's free space. */
  loadInfo(): Promise<void>;
  /** Resolves once every load in flight has landed. */
  idle(): Promise<void>;
  dispose(): void;
}

export const NOW_ROW = 'now';

export function createSync(store: AppStore, bridge: BoxkeepBridge): Sync {
  const loads = new Coalescer();
  const unsubscribe: Array<() => void> = [];

  const forgetBox = (boxId: string) =>
    store.setState((s) => ({
      details: without(s.details, boxId),
      trees: without(s.trees, boxId),
      consoles: without(s.consoles, boxId),
      selectedRow: without(s.selectedRow, boxId),
    }));

  /** Removed while we were looking: the boxes:changed that follows updates the list. */
  const unlessGone = (boxId: string) => (err: unknown) => {
    if (asBoxkeepError(err).code === 'NotFound') forgetBox(boxId);
    else throw err;
  };

  const loadDetail = (boxId: string) =>
    loads.run(`detail:${boxId}`, () =>
      Promise.all([bridge.boxes.get({ box: boxId }), bridge.protect.get({ box: boxId })]).then(([detail, protect]) => {
        store.setState((s) => ({
          details: { ...s.details, [boxId]: detail },
          protect: { ...s.protect, [boxId]: protect },
          // The detail is newer than the list entry: keep the sidebar in step with it.
          boxes: mergeBoxes(s.boxes, s.boxes.map((b) => (b.id === boxId ? fromDetail(detail, b) : b))),
        }));
      }, unlessGone(boxId)),
    );

  const loadTree = (boxId: string) =>
    loads.run(`tree:${boxId}`, () =>
      bridge.snapshots.list({ box: boxId }).then((answer) => {
        let tree = answer;
        store.setState((s) => {
          const old = s.trees[boxId];
          if (old && sameTree(old, tree)) return {};
          if (old) tree = { ...tree, snapshots: reuseSnapshots(old.snapshots, tree.snapshots) };
          // A selection missing from this tree is kept, not reset: the answer may predate the
          // snapshot just taken (it appears with the next reload); the views fall back to Now.
          const selectedRow = s.selectedRow[boxId] !== undefined ? s.selectedRow : { ...s.selectedRow, [boxId]: NOW_ROW };
          return { trees: { ...s.trees, [boxId]: tree }, selectedRow };
        });
      }, unlessGone(boxId)),
    );

  /**
   * The tree first, the detail after: the detail of a box with a deep chain costs the main
   * process real work (it reads every layer's header), and the tree is what the person is
   * waiting to see; asking for both at once makes them compete for the CPU.
   */
  const treeThenDetail = (boxId: string) => loadTree(boxId).then(() => loadDetail(boxId));

  /** A box we show (selected) is reloaded; one merely cached is dropped and reloaded on demand. */
  const refresh = (boxId: string, what: 'detail' | 'both'): Promise<unknown> => {
    if (store.getState().selectedBoxId !== boxId) {
      store.setState((s) => ({ details: without(s.details, boxId), trees: without(s.trees, boxId) }));
      return Promise.resolve();
    }
    return what === 'detail' ? loadDetail(boxId) : treeThenDetail(boxId);
  };

  const loadInfo = () => loads.run('info', async () => store.setState({ info: await bridge.system.info() }));

  const quietly = (p: Promise<unknown>) => {
    p.catch((err) => pushToast(store, 'error', `Could not refresh the view: ${errorText(err)}`));
  };

  const sync: Sync = {
    async start() {
      unsubscribe.push(
        // A box's state, name or resources changed: its list entry and detail. Its tree changes
        // only with snapshots:changed, which always comes too when it does.
        bridge.on('boxes:changed', ({ boxId }) => {
          quietly(sync.loadBoxes());
          // "Reload all" (a reconnect, a change made outside the owner) may hide image changes too.
          if (boxId === null) quietly(sync.loadImages());
          // The main process picks the accelerator (and learns QEMU's version) at the first start.
          quietly(loadInfo());
          const ids = boxId !== null ? [boxId] : [...new Set([...Object.keys(store.getState().details), ...Object.keys(store.getState().trees)])];
          for (const id of ids) quietly(refresh(id, boxId === null ? 'both' : 'detail'));
        }),
        // Every change of disks changes the free space shown (and its below-the-reserve banner).
        bridge.on('snapshots:changed', ({ boxId }) => {
          quietly(refresh(boxId, 'both'));
          quietly(loadInfo());
        }),
        // A new policy, a next run moved, a pause for space: the box's detail (which carries it).
        bridge.on('protect:changed', ({ boxId }) => quietly(refresh(boxId, 'detail'))),
        // The desktop shell shows these as notifications too; a browser only has the toast.
        bridge.on('protect:alert', (a) => pushToast(store, a.kind === 'resumed' ? 'info' : 'error', a.message)),
        bridge.on('images:changed', () => {
          quietly(sync.loadImages());
          quietly(loadInfo());
        }),
        bridge.on('tasks:progress', (task) =>
          store.setState((s) => ({ tasks: task.done ? without(s.tasks, task.taskId) : { ...s.tasks, [task.taskId]: task } })),
        ),
        bridge.on('recovery:report', (report) => store.setState({ recovery: report.items.length > 0 ? report : null })),
      );
      try {
        const [info, recovery] = await Promise.all([bridge.system.info(), bridge.recovery.last(), sync.loadBoxes(), sync.loadImages()]);
        store.setState({ info, connection: 'ready', connectionError: null });
        if (recovery && recovery.items.length > 0) store.setState({ recovery });
        // loadBoxes started the selected box's load; the first screen is ready when it lands.
        await loads.idle();
      } catch (err) {
        store.setState({ connection: 'failed', connectionError: errorText(err) });
        throw asBoxkeepError(err);
      }
    },

    loadBoxes: () =>
      loads.run('boxes', async () => {
        const boxes = await bridge.boxes.list();
        store.setState((s) => {
          const stillThere = boxes.some((b) => b.id === s.selectedBoxId);
          return { boxes: mergeBoxes(s.boxes, boxes), boxesLoaded: true, selectedBoxId: stillThere ? s.selectedBoxId : boxes[0]?.id ?? null };
        });
        const gone = Object.keys(store.getState().details).filter((id) => !boxes.some((b) => b.id === id));
        for (const id of gone) forgetBox(id);
        const selected = store.getState().selectedBoxId;
        if (selected && (!store.getState().details[selected] || !store.getState().trees[selected])) void sync.loadBox(selected).catch(() => {});
      }),

    loadImages: () =>
      loads.run('images', async () => {
        const images = await bridge.images.list();
        store.setState({ images });
      }),

    loadBox: (boxId) => treeThenDetail(boxId),

    loadConsole: (boxId, lines = 500) =>
      loads.run(`console:${boxId}`, async () => {
        const out = await bridge.boxes.console({ box: boxId, lines });
        store.setState((s) => {
          const previous = s.consoles[boxId];
          // Same lines: keep the old array so the console does not re-render or jump.
          if (previous && previous.length === out.lines.length && previous.every((l, i) => l === out.lines[i])) return {};
          return { consoles: { ...s.consoles, [boxId]: out.lines } };
        });
      }),

    loadInfo,

    idle: () => loads.idle(),

    dispose() {
      for (const off of unsubscribe.splice(0)) off();
    },
  };
  return sync;
}

function fromDetail(detail: BoxDetail, listed: Box): Box {
  return {
    ...listed,
    name: detail.name,
    status: detail.status,
    failureReason: detail.failureReason,
    cpus: detail.cpus,
    memoryMib: detail.memoryMib,
    diskSize: detail.diskSize,
    currentSnapshotId: detail.currentSnapshotId,
    network: detail.network,
    forwards: detail.forwards,
    stopTimeoutSec: detail.stopTimeoutSec,
    pendingRestart: detail.pendingRestart,
    stopDeadline: detail.stopDeadline,
    pendingDiskSize: detail.pendingDiskSize,
  };
}

const BOX_FIELDS: (keyof Box)[] = ['id', 'name', 'imageId', 'status', 'failureReason', 'cpus', 'memoryMib', 'diskSize', 'currentSnapshotId', 'liveDiskPath', 'createdAt', 'installerImageId',
  'network', 'forwards', 'macAddress', 'stopTimeoutSec', 'pendingRestart', 'stopDeadline', 'pendingDiskSize'];
const SNAPSHOT_FIELDS: (keyof Snapshot)[] = ['id', 'parentId', 'name', 'description', 'createdAt', 'sizeOnDisk', 'virtualSize', 'live', 'diskPath', 'pinned', 'auto'];

/** The new list, reusing each unchanged box object (and the old array when nothing changed). */
function mergeBoxes(old: Box[], next: Box[]): Box[] {
  const byId = new Map(old.map((b) => [b.id, b]));
  const merged = next.map((b) => {
    const prev = byId.get(b.id);
    return prev && BOX_FIELDS.every((f) => sameValue(prev[f], b[f])) ? prev : b;
  });
  return merged.length === old.length && merged.every((b, i) => b === old[i]) ? old : merged;
}

/** Forwards are a list: equal by content, not by object. */
const sameValue = (a: unknown, b: unknown) => a === b || (Array.isArray(a) && Array.isArray(b) && JSON.stringify(a) === JSON.stringify(b));

/** Unchanged snapshots keep their previous objects, so views can compare by identity. */
function reuseSnapshots(old: Snapshot[], next: Snapshot[]): Snapshot[] {
  const byId = new Map(old.map((s) => [s.id, s]));
  return next.map((s) => {
    const prev = byId.get(s.id);
    return prev && SNAPSHOT_FIELDS.every((f) => prev[f] === s[f]) ? prev : s;
  });
}

function sameTree(a: SnapshotTree, b: SnapshotTree): boolean {
  if (a.currentId !== b.currentId || a.snapshots.length !== b.snapshots.length) return false;
  for (let i = 0; i < a.snapshots.length; i++) {
    const x = a.snapshots[i]!;
    const y = b.snapshots[i]!;
    for (const f of SNAPSHOT_FIELDS) if (x[f] !== y[f]) return false;
  }
  return true;
}
