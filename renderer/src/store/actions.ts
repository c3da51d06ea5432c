// What a person can do, as store actions. Each one marks itself pending (buttons show it at
// once), calls the typed client, and ends in a toast saying what happened, or in an error that
// says what to do next. The store itself is refreshed by the events the call causes.
import type { ByteStream } from '../../../shared/streams.js';
import type { BoxkeepBridge } from '../../../shared/client.js';
import type { BoxkeepError } from '../../../shared/errors.js';
import type { ChannelInput } from '../../../shared/channels.js';
import type { Box, Image, MemoryResume, ProtectStatus, RecoveryReport, RemoveSnapshotResult, RestoreResult, Settings, Snapshot, StopResult } from '../../../shared/types.js';
import type { ConsoleOutput, FileCopyResult, GuestFolder, SnapshotDiff } from '../../../shared/types.js';
import { formatBytes, joinWords } from '../format.js';
import { asBoxkeepError } from './errors.js';
import { without, type AppStore, type DialogState, type View } from './state.js';
import { NOW_ROW, type Sync } from './sync.js';
import { dismissToast, pushToast } from './toasts.js';
import { createPictureCache } from './pictures.js';

/** How a store action ended: its value, or the error for the dialog that asked to show inline. */
export type ActionResult<T> = { ok: true; value: T } | { ok: false; error: BoxkeepError };

export interface RestoreOptions {
  snapshotCurrentFirst: boolean;
  /** The box is active: stop it first (the dialog's "Stop and restore"). */
  stopFirst: boolean;
  startAfter: boolean;
  /** Of a snapshot with memory: only its disk (the box stays stopped). */
  diskOnly?: boolean;
}

export interface Actions {
  selectBox(boxId: string): void;
  selectRow(boxId: string, key: string): void;
  setView(view: View): void;
  openDialog(dialog: DialogState): void;
  closeDialog(): void;
  dismissRecovery(): void;
  /** What `boxkeep recover` runs, for the whole home (an unsettled live snapshot's banner offers it); then the box is shown again. */
  recover(boxId: string): Promise<ActionResult<RecoveryReport>>;
  dismissToast(id: number): void;
  startBox(boxId: string): Promise<ActionResult<Box>>;
  /** Force while a graceful stop waits: cuts the wait short (the waiting stop answers). */
  stopBox(boxId: string, force?: boolean): Promise<ActionResult<StopResult>>;
  pauseBox(boxId: string): Promise<ActionResult<Box>>;
  resumeBox(boxId: string): Promise<ActionResult<Box>>;
  /** Takes the installer media out (at once if the box runs); it then boots from its disk. */
  ejectInstaller(boxId: string): Promise<ActionResult<Box>>;
  /** Dialog actions leave errors to the dialog (shown inline, next to what to fix). */
  takeSnapshot(boxId: string, name: string, description: string, memory?: boolean): Promise<ActionResult<Snapshot>>;
  restoreSnapshot(boxId: string, snapshotId: string, options: RestoreOptions): Promise<ActionResult<RestoreResult>>;
  /** Whether a restore could resume this snapshot's memory now (the Restore dialog asks on opening); changes nothing. */
  memoryResume(boxId: string, snapshotId: string): Promise<ActionResult<MemoryResume>>;
  deleteSnapshot(boxId: string, snapshotId: string): Promise<ActionResult<RemoveSnapshotResult>>;
  updateSnapshot(boxId: string, snapshotId: string, fields: { name?: string; description?: string }): Promise<ActionResult<Snapshot>>;
  /** Pinned snapshots are never pruned by AutoProtect. */
  pinSnapshot(boxId: string, snapshotId: string, pinned: boolean): Promise<ActionResult<Snapshot>>;
  /** A box's AutoProtect policy (the preset, off, or one given whole). */
  setProtect(input: ChannelInput<'protect:set'>): Promise<ActionResult<ProtectStatus>>;
  createBox(input: ChannelInput<'boxes:create'>): Promise<ActionResult<Box>>;
  importImage(input: ChannelInput<'images:import'>): Promise<ActionResult<Image>>;
  cloneBox(input: ChannelInput<'boxes:clone'>): Promise<ActionResult<Box>>;
  exportBox(input: ChannelInput<'boxes:export'>): Promise<ActionResult<{ path: string; bytes: number }>>;
  importBox(input: ChannelInput<'boxes:import'>): Promise<ActionResult<Box>>;
  /** Asks a running export or import to stop. */
  cancelTask(taskId: string): Promise<void>;
  renameBox(boxId: string, name: string): Promise<ActionResult<Box>>;
  updateBox(input: ChannelInput<'boxes:update'>): Promise<ActionResult<Box>>;
  removeBox(boxId: string): Promise<ActionResult<{ removedId: string; freedBytes: number }>>;
  /** Errors stay with the image manager's row (a used image's refusal names its boxes). */
  removeImage(imageId: string): Promise<ActionResult<{ removedId: string }>>;
  refreshConsole(boxId: string): Promise<void>;
  /** The box's live serial terminal; the caller closes it. */
  openConsole(boxId: string): Promise<ByteStream>;
  /** A PNG of the running box's screen, from QEMU (screendump). */
  screenshot(boxId: string): Promise<Uint8Array>;
  /** The box's screen: raw RFB bytes from QEMU's VNC server, for noVNC; the caller closes it. */
  openDisplay(boxId: string): Promise<ByteStream>;
  /** The last lines of the serial log, for a terminal to start with (and whether the last is still open). */
  readConsole(boxId: string, lines: number): Promise<ConsoleOutput>;
  /** The system file picker (desktop app only: absent in a browser, which cannot learn a path). */
  pickImageFile?(): Promise<string | null>;
  /** The same for a .boxkeep archive to import, and a save dialog for an export (desktop only). */
  pickArchiveFile?(): Promise<string | null>;
  pickArchiveSavePath?(defaultName: string): Promise<string | null>;
  setDiskReserve(bytes: number | 'default'): Promise<ActionResult<Settings>>;
  /** A snapshot's picture of the screen as a data: URL (Snapshot.hasPicture), or null when it has none; fetched once. */
  snapshotPicture(boxId: string, snapshotId: string): Promise<string | null>;
  /** The picture at once if it has already been fetched (undefined when not yet). */
  cachedSnapshotPicture(boxId: string, snapshotId: string): string | null | undefined;
  /** Looking inside snapshots: errors stay with the panel that asked. */
  diffSnapshots(input: ChannelInput<'snapshots:diff'>): Promise<ActionResult<SnapshotDiff>>;
  snapshotFiles(input: ChannelInput<'snapshots:files'>): Promise<ActionResult<GuestFolder>>;
  saveSnapshotFile(input: ChannelInput<'snapshots:getFile'>): Promise<ActionResult<FileCopyResult>>;
  putSnapshotFile(input: ChannelInput<'snapshots:putFile'>): Promise<ActionResult<FileCopyResult>>;
}

export function createActions(store: AppStore, bridge: BoxkeepBridge, sync: Sync): Actions {
  const boxName = (id: string) => store.getState().boxes.find((b) => b.id === id)?.name ?? 'The box';
  const snapshotOf = (boxId: string, id: string | null) =>
    id === null ? null : store.getState().trees[boxId]?.snapshots.find((s) => s.id === id) ?? null;
  const pictures = createPictureCache((boxId, snapshotId) =>
    bridge.snapshots.picture({ box: boxId, snapshot: snapshotId }).then((p) => `data:image/png;base64,${p.png}`),
  );
  // A deleted snapshot (or removed box) takes its picture with it.
  store.subscribe((s, prev) => {
    if (s.trees !== prev.trees || s.boxes !== prev.boxes) pictures.prune(s.trees, s.boxes.map((b) => b.id));
  });

  /** success returns null when another action already says what happened. */
  async function perform<T>(key: string, call: () => Promise<T>, opts: { success: (value: T) => string | null; toastErrors: boolean }): Promise<ActionResult<T>> {
    store.setState((s) => ({ pending: { ...s.pending, [key]: true } }));
    try {
      const value = await call();
      const said = opts.success(value);
      if (said !== null) pushToast(store, 'success', said);
      return { ok: true, value };
    } catch (err) {
      const error = asBoxkeepError(err);
      if (opts.toastErrors) pushToast(store, 'error', error.message);
      return { ok: false, error };
    } finally {
      store.setState((s) => ({ pending: without(s.pending, key) }));
    }
  }

  /** A box just made (create, clone, import): shown and selected now; the boxes:changed reload confirms it. */
  const selectNewBox = (box: Box) => {
    store.setState((s) => ({ boxes: s.boxes.some((b) => b.id === box.id) ? s.boxes : [...s.boxes, box], selectedBoxId: box.id, view: 'snapshots' }));
    void sync.loadBox(box.id).catch(() => {});
  };
  /** A box call answers with the box's new state: show it now, before the event's reload. */
  const showBox = (box: Box) => store.setState((s) => ({ boxes: s.boxes.map((b) => (b.id === box.id ? { ...b, ...box } : b)) }));

  const boxVerb = (verb: 'start' | 'pause' | 'resume' | 'ejectInstaller', said: (name: string) => string) => async (boxId: string) => {
    const out = await perform(`${verb}:${boxId}`, () => bridge.boxes[verb]({ box: boxId }), { success: (b) => said(b.name), toastErrors: true });
    if (out.ok) showBox(out.value);
    return out;
  };

  /** Boxes whose graceful stop the user cut short: that stop's answer needs no toast of its own. */
  const forcedDuringStop = new Set<string>();

  return {
    selectBox(boxId) {
      store.setState({ selectedBoxId: boxId });
      if (!store.getState().trees[boxId]) void sync.loadBox(boxId).catch((err) => pushToast(store, 'error', asBoxkeepError(err).message));
    },
    selectRow: (boxId, key) => store.setState((s) => ({ selectedRow: { ...s.selectedRow, [boxId]: key } })),
    setView: (view) => store.setState({ view }),
    openDialog: (dialog) => store.setState({ dialog }),
    closeDialog: () => store.setState({ dialog: null }),
    dismissRecovery: () => store.setState({ recovery: null }),
    dismissToast: (id) => dismissToast(store, id),
    async recover(boxId) {
      // What it repaired or kept comes as the recovery report's own banner (recovery:report).
      const out = await perform('recover', () => bridge.recovery.run({}), {
        success: (r) => (r.items.length === 0 ? 'Recovery found nothing left to finish.' : 'Recovery finished; see its report above.'),
        toastErrors: true,
      });
      await sync.loadBox(boxId).catch(() => {});
      return out;
    },

    startBox: boxVerb('start', (n) => `${n} is running.`),
    pauseBox: boxVerb('pause', (n) => `${n} is paused.`),
    resumeBox: boxVerb('resume', (n) => `${n} is running again.`),
    ejectInstaller: boxVerb('ejectInstaller', (n) => `The installer was ejected from ${n}; it boots from its disk now.`),
    async stopBox(boxId, force = false) {
      const stopping = store.getState().boxes.find((b) => b.id === boxId)?.status === 'stopping';
      if (force && stopping) forcedDuringStop.add(boxId);
      // Its own key: the graceful stop's pending mark stays until that stop answers.
      const out = await perform(`${force ? 'force-stop' : 'stop'}:${boxId}`, () => bridge.boxes.stop({ box: boxId, force }), {
        success: (b) =>
          !force && forcedDuringStop.delete(boxId) ? null
          : !b.forced ? `${b.name} shut down cleanly.`
            : force ? `${b.name} was forced off.`
              : `${b.name} was forced off: the guest did not shut down in time.`,
        toastErrors: true,
      });
      if (out.ok) showBox(out.value);
      return out;
    },

    async takeSnapshot(boxId, name, description, memory) {
      const out = await perform(`snapshot:${boxId}`, () => bridge.snapshots.create({ box: boxId, name, ...(description ? { description } : {}), ...(memory ? { memory: true } : {}) }), {
        success: (s) => `Took snapshot “${s.name}”${s.memory ? ' with the running box’s memory' : memory && s.live ? ' while the box was running, with its disk only: its memory could not be saved' : s.live ? ' while the box was running' : ''}.`,
        toastErrors: false,
      });
      if (out.ok) store.setState((s) => ({ selectedRow: { ...s.selectedRow, [boxId]: out.value.id } }));
      return out;
    },

    async restoreSnapshot(boxId, snapshotId, o) {
      const out = await perform(
        `restore:${boxId}`,
        () => bridge.snapshots.restore({ box: boxId, snapshot: snapshotId, snapshotCurrentFirst: o.snapshotCurrentFirst, stopFirst: o.stopFirst, startAfter: o.startAfter, ...(o.diskOnly ? { diskOnly: true } : {}) }),
        {
          success: (r) =>
            `${r.box.name} is back at “${r.snapshot.name}”.` +
            (r.savedSnapshot ? ` The state before was saved as “${r.savedSnapshot.name}”.` : '') +
            (r.snapshot.memory && !o.diskOnly ? ' It is running from that moment.' : o.startAfter && o.stopFirst ? ' It is starting again.' : ''),
          toastErrors: false,
        },
      );
      if (out.ok) {
        showBox(out.value.box);
        store.setState((s) => ({ selectedRow: { ...s.selectedRow, [boxId]: NOW_ROW } }));
      }
      return out;
    },

    memoryResume: (boxId, snapshotId) =>
      perform(`resumable:${boxId}:${snapshotId}`, () => bridge.snapshots.resumable({ box: boxId, snapshot: snapshotId }), { success: () => null, toastErrors: false }),

    async deleteSnapshot(boxId, snapshotId) {
      const doomed = snapshotOf(boxId, snapshotId);
      const parent = snapshotOf(boxId, doomed?.parentId ?? null);
      // Names as they were before the removal: the answer's ids are looked up in this tree.
      const nameOf = new Map((store.getState().trees[boxId]?.snapshots ?? []).map((s) => [s.id, s.name]));
      // Decided now: the event's reload may land (and reset a vanished selection) before we resume.
      const wasSelected = store.getState().selectedRow[boxId] === snapshotId;
      const out = await perform(`delete:${boxId}`, () => bridge.snapshots.remove({ box: boxId, snapshot: snapshotId }), {
        success: (r) => {
          const moved = [...r.reparentedIds.map((id) => `“${nameOf.get(id) ?? id}”`), ...(r.nowReparented ? ['the current state (Now)'] : [])];
          if (moved[0]) moved[0] = moved[0].charAt(0).toUpperCase() + moved[0].slice(1);
          return (
            `Deleted “${doomed?.name ?? 'the snapshot'}” and freed ${formatBytes(r.freedBytes)}.` +
            (moved.length > 0 ? ` ${joinWords(moved)} now follow${moved.length === 1 ? 's' : ''} ${parent ? `“${parent.name}”` : 'the base image'}.` : '')
          );
        },
        toastErrors: false,
      });
      if (out.ok && wasSelected) {
        // Keep the selection near where it was rather than jumping to the end of the tree.
        store.setState((s) => ({ selectedRow: { ...s.selectedRow, [boxId]: parent?.id ?? NOW_ROW } }));
      }
      return out;
    },

    pinSnapshot: (boxId, snapshotId, pinned) =>
      perform(`pin:${boxId}`, () => bridge.snapshots[pinned ? 'pin' : 'unpin']({ box: boxId, snapshot: snapshotId }), {
        success: (s) => (s.pinned ? `Pinned “${s.name}”: AutoProtect never removes it.` : `Unpinned “${s.name}”.`),
        toastErrors: true,
      }),

    setProtect: (input) =>
      perform(`protect:${input.box}`, () => bridge.protect.set(input), {
        success: (p) => (p.policy.enabled ? `AutoProtect is on for ${boxName(p.boxId)}.` : `AutoProtect is off for ${boxName(p.boxId)}.`),
        toastErrors: true,
      }).then((out) => {
        if (out.ok) store.setState((s) => ({ protect: { ...s.protect, [out.value.boxId]: out.value } }));
        return out;
      }),

    updateSnapshot: (boxId, snapshotId, fields) =>
      perform(`edit:${boxId}`, () => bridge.snapshots.update({ box: boxId, snapshot: snapshotId, ...fields }), {
        success: (s) => `Saved snapshot “${s.name}”.`,
        toastErrors: false,
      }),

    async createBox(input) {
      const out = await perform('box:create', () => bridge.boxes.create(input), { success: (b) => `Created box ${b.name}.`, toastErrors: false });
      if (out.ok) selectNewBox(out.value);
      return out;
    },

    async importImage(input) {
      const out = await perform('image:import', () => bridge.images.import(input), {
        success: (i) => (i.kind === 'installer' ? `Imported installer ${i.name} (${formatBytes(i.virtualSize)} ISO).` : `Imported image ${i.name} (${formatBytes(i.virtualSize)} disk).`),
        toastErrors: false,
      });
      // Every window reloads on images:changed; this one also waits for that list before the
      // dialog closes, so the next screen (the empty state's "create a box") already has it.
      if (out.ok) await sync.loadImages().catch(() => {});
      return out;
    },

    cloneBox: (input) =>
      perform(`clone:${input.box}`, () => bridge.boxes.clone(input), { success: (b) => `Cloned as ${b.name}.`, toastErrors: false }).then((out) => {
        if (out.ok) selectNewBox(out.value);
        return out;
      }),
    exportBox: (input) =>
      perform(`export:${input.box}`, () => bridge.boxes.export(input), { success: (r) => `Exported to ${r.path} (${formatBytes(r.bytes)}).`, toastErrors: false }),
    importBox: (input) =>
      perform('box:import', () => bridge.boxes.import(input), { success: (b) => `Imported box ${b.name}.`, toastErrors: false }).then(async (out) => {
        if (out.ok) {
          await sync.loadImages().catch(() => {});
          selectNewBox(out.value);
        }
        return out;
      }),
    cancelTask: async (taskId) => {
      await bridge.tasks.cancel({ taskId }).catch(() => {});
    },

    renameBox: (boxId, name) =>
      perform(`rename:${boxId}`, () => bridge.boxes.rename({ box: boxId, name }), { success: (b) => `Renamed the box to ${b.name}.`, toastErrors: false }).then(
        (out) => {
          if (out.ok) showBox(out.value);
          return out;
        },
      ),

    updateBox: (input) =>
      perform(`edit-box:${input.box}`, () => bridge.boxes.update(input), {
        success: (b) => `Saved the settings of ${b.name}.${b.pendingRestart ? ' They apply at the next start.' : ''}`,
        toastErrors: false,
      }).then((out) => {
        if (out.ok) showBox(out.value);
        return out;
      }),

    async removeBox(boxId) {
      const name = boxName(boxId);
      return perform(`remove:${boxId}`, () => bridge.boxes.remove({ box: boxId }), {
        success: (r) => `Removed ${name} and freed ${formatBytes(r.freedBytes)}.`,
        toastErrors: false,
      });
    },

    async removeImage(imageId) {
      const name = store.getState().images.find((i) => i.id === imageId)?.name ?? 'the image';
      const out = await perform(`image-remove:${imageId}`, () => bridge.images.remove({ image: imageId }), {
        success: () => `Removed image ${name}.`,
        toastErrors: false,
      });
      if (out.ok) await sync.loadImages().catch(() => {});
      return out;
    },

    refreshConsole: (boxId) => sync.loadConsole(boxId),
    openConsole: (boxId) => bridge.consoles.open({ box: boxId }),
    openDisplay: (boxId) => bridge.displays.open({ box: boxId }),
    screenshot: async (boxId) => Uint8Array.from(atob((await bridge.boxes.screenshot({ box: boxId })).png), (c) => c.charCodeAt(0)),
    readConsole: (boxId, lines) => bridge.boxes.console({ box: boxId, lines }),
    ...(bridge.desktop ? { pickImageFile: () => bridge.shell.pickImageFile() } : {}),
    ...(bridge.desktop ? { pickArchiveFile: () => bridge.shell.pickArchiveFile(), pickArchiveSavePath: (defaultName: string) => bridge.shell.pickArchiveSavePath({ defaultName }) } : {}),

    async setDiskReserve(bytes) {
      const out = await perform('settings', () => bridge.settings.update({ diskReserve: bytes }), {
        success: (s) => `The disk reserve is now ${formatBytes(s.space.reserve)}${s.diskReserve === null ? ' (the default)' : ''}.`,
        toastErrors: false,
      });
      if (out.ok) await sync.loadInfo().catch(() => {});
      return out;
    },

    snapshotPicture: (boxId, snapshotId) => pictures.get(boxId, snapshotId),
    cachedSnapshotPicture: (boxId, snapshotId) => pictures.peek(boxId, snapshotId),
    diffSnapshots: (input) => perform(`diff:${input.box}`, () => bridge.snapshots.diff(input), { success: () => null, toastErrors: false }),
    snapshotFiles: (input) => perform(`files:${input.box}`, () => bridge.snapshots.files(input), { success: () => null, toastErrors: false }),
    saveSnapshotFile: (input) => perform(`get-file:${input.box}`, () => bridge.snapshots.getFile(input), { success: (r) => `Saved a copy to ${r.destination}.`, toastErrors: false }),
    putSnapshotFile: (input) => perform(`put-file:${input.box}`, () => bridge.snapshots.putFile(input), { success: (r) => `Put ${r.destination} back into the box.`, toastErrors: false }),
  };
}
