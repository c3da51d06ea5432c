// Events pushed from the main process to every window, the tray and the web host's clients.
import type { RecoveryReport, TaskProgress } from './types.js';

export interface EventMap {
  /** A box was created, removed, renamed or changed state; boxId null means "reload all". */
  'boxes:changed': { boxId: string | null };
  /** A box's snapshot tree or current pointer changed. */
  'snapshots:changed': { boxId: string };
  /** An image was imported or removed; imageId null means "reload all". */
  'images:changed': { imageId: string | null };
  'tasks:progress': TaskProgress;
  'recovery:report': RecoveryReport;
  /** A box's AutoProtect policy or schedule changed (a new next run, a pause): reload its status. */
  'protect:changed': { boxId: string };
  /** Something the user should be told about a box's schedule; the shell shows it as a notification. */
  'protect:alert': ProtectAlert;
}

/** failed: an automatic snapshot failed (message says why); paused: the disk is short of space, the schedule waits; resumed: space is back; prune-failed: the snapshot was taken, removing old ones failed. */
export interface ProtectAlert {
  boxId: string;
  box: string;
  kind: 'failed' | 'paused' | 'resumed' | 'prune-failed';
  message: string;
}

export type EventName = keyof EventMap;
export const EVENT_NAMES: EventName[] = ['boxes:changed', 'snapshots:changed', 'images:changed', 'tasks:progress', 'recovery:report', 'protect:changed', 'protect:alert'];

export type Listener<E extends EventName> = (payload: EventMap[E]) => void;

/** A tiny typed emitter usable in Node and the browser. */
export class Emitter {
  private listeners = new Map<EventName, Set<(payload: never) => void>>();

  on<E extends EventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set!.delete(listener as (payload: never) => void);
  }

  emit<E extends EventName>(event: E, payload: EventMap[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<E>)(payload);
      } catch {
        // A faulty listener must not stop the others or the operation that emitted.
      }
    }
  }
}
