// Long operations report progress as tasks:progress events (merge, import, remove).
import type { Emitter } from '../../shared/events.js';
import type { TaskKind } from '../../shared/types.js';
import { newId } from './ids.js';

export interface TaskHandle {
  id: string;
  progress(fraction: number, message?: string): void;
  /** Aborted when someone cancels the task (tasks:cancel); work that can stop half way listens. */
  signal: AbortSignal;
}

export class Tasks {
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly events: Emitter) {}

  /** Asks a running task to stop; false when no such task runs. The task itself says how it ended. */
  cancel(taskId: string): boolean {
    const controller = this.running.get(taskId);
    if (!controller) return false;
    controller.abort();
    return true;
  }

  async run<T>(kind: TaskKind, boxId: string | null, message: string, work: (task: TaskHandle) => Promise<T>): Promise<T> {
    const taskId = newId();
    let last = -1;
    const emit = (fraction: number, msg: string, done: boolean, error: { code: string; message: string } | null = null) =>
      this.events.emit('tasks:progress', { taskId, kind, boxId, fraction, message: msg, done, error });
    const controller = new AbortController();
    this.running.set(taskId, controller);
    const handle: TaskHandle = {
      id: taskId,
      signal: controller.signal,
      progress(fraction, msg = message) {
        const f = Math.max(0, Math.min(1, fraction));
        // Throttle to whole percents: qemu-img reports far more often than anyone can read.
        if (Math.floor(f * 100) === Math.floor(last * 100)) return;
        last = f;
        emit(f, msg, false);
      },
    };
    emit(0, message, false);
    try {
      const value = await work(handle);
      emit(1, message, true);
      return value;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      emit(last < 0 ? 0 : last, message, true, { code: e.code ?? 'Internal', message: e.message ?? String(err) });
      throw err;
    } finally {
      this.running.delete(taskId);
    }
  }
}
