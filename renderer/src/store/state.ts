// The renderer's single store. Everything on screen is derived from it; it is filled by the
// bridge's answers and kept current by the bridge's events (store/sync.ts), never by polling.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { Box, BoxDetail, Image, ProtectStatus, RecoveryReport, SnapshotTree, SystemInfo, TaskProgress } from '../../../shared/types.js';

export type ToastKind = 'success' | 'error' | 'info';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
}

export type DialogState =
  | { kind: 'takeSnapshot'; boxId: string }
  | { kind: 'restore'; boxId: string; snapshotId: string }
  | { kind: 'deleteSnapshot'; boxId: string; snapshotId: string }
  | { kind: 'editSnapshot'; boxId: string; snapshotId: string }
  | { kind: 'renameBox'; boxId: string }
  | { kind: 'editBox'; boxId: string }
  | { kind: 'removeBox'; boxId: string }
  | { kind: 'newBox' }
  | { kind: 'importImage' }
  | { kind: 'images' }
  | { kind: 'shortcuts' }
  | { kind: 'settings' }
  | { kind: 'cloneBox'; boxId: string; snapshotId: string | null }
  | { kind: 'exportBox'; boxId: string; snapshotId: string | null }
  | { kind: 'importBox' };

export type View = 'snapshots' | 'console' | 'display';

export interface AppState {
  /**
   * 'reconnecting': the web host's socket dropped; calls wait for it to come back. 'lost': it
   * stayed away, and connectionError says why and which address to open instead.
   */
  connection: 'connecting' | 'ready' | 'reconnecting' | 'lost' | 'failed';
  /** Why the first load failed, worded for the person at the screen. */
  connectionError: string | null;
  info: SystemInfo | null;
  images: Image[];
  boxes: Box[];
  /** False until the first boxes:list answer: distinguishes "loading" from "no boxes yet". */
  boxesLoaded: boolean;
  details: Record<string, BoxDetail>;
  trees: Record<string, SnapshotTree>;
  /** AutoProtect per box, loaded with its detail. */
  protect: Record<string, ProtectStatus>;
  consoles: Record<string, string[]>;
  selectedBoxId: string | null;
  /** Selected tree row per box: a snapshot id or 'now'. */
  selectedRow: Record<string, string>;
  view: View;
  /** Long work in flight, by task id, as the tasks:progress events describe it. */
  tasks: Record<string, TaskProgress>;
  /** Operations this window started and is waiting for, e.g. 'start:<boxId>'. */
  pending: Record<string, true>;
  toasts: Toast[];
  /** What startup recovery repaired; null once dismissed or when there was nothing. */
  recovery: RecoveryReport | null;
  dialog: DialogState | null;
}

export type AppStore = StoreApi<AppState>;

export function initialState(): AppState {
  return {
    connection: 'connecting',
    connectionError: null,
    info: null,
    images: [],
    boxes: [],
    boxesLoaded: false,
    details: {},
    trees: {},
    protect: {},
    consoles: {},
    selectedBoxId: null,
    selectedRow: {},
    view: 'snapshots',
    tasks: {},
    pending: {},
    toasts: [],
    recovery: null,
    dialog: null,
  };
}

export function createAppStore(): AppStore {
  return createStore<AppState>()(() => initialState());
}

/** Returns a copy of `record` without `key` (state is never mutated in place). */
export function without<T>(record: Record<string, T>, key: string): Record<string, T> {
  if (!(key in record)) return record;
  const copy = { ...record };
  delete copy[key];
  return copy;
}

export const selectedBox = (s: AppState): Box | null => s.boxes.find((b) => b.id === s.selectedBoxId) ?? null;
