// Toasts: the immediate "done" or "that failed, here is what to do" after an operation.
import type { AppStore, ToastKind } from './state.js';

let nextId = 1;
/** Old toasts leave first: a burst of errors must not bury the screen. */
const MAX_TOASTS = 4;

/**
 * The same message again (an alert a restarted owner tells anew, a failure repeated at each
 * scheduled run, a refresh failing at each event) replaces the one shown: it moves to the
 * newest place instead of stacking copies, and would otherwise look like a toast that never goes.
 */
export function pushToast(store: AppStore, kind: ToastKind, message: string): number {
  const id = nextId++;
  store.setState((s) => ({ toasts: [...s.toasts.filter((t) => t.kind !== kind || t.message !== message), { id, kind, message }].slice(-MAX_TOASTS) }));
  return id;
}

export function dismissToast(store: AppStore, id: number): void {
  store.setState((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
}
