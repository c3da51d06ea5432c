// Toasts: the immediate "done" or "that failed, here is what to do" after an operation.
import type { AppStore, ToastKind } from './state.js';

let nextId = 1;
/** Old toasts leave first: a burst of errors must not bury the screen. */
const MAX_TOASTS = 4;

export function pushToast(store: AppStore, kind: ToastKind, message: string): number {
  const id = nextId++;
  store.setState((s) => ({ toasts: [...s.toasts, { id, kind, message }].slice(-MAX_TOASTS) }));
  return id;
}

export function dismissToast(store: AppStore, id: number): void {
  store.setState((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
}
