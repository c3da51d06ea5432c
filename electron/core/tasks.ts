// Long operations report progress as tasks:progress events (merge, import, remove).
import type { Emitter } from '../../shared/events.js';
import type { TaskKind } from '../../shared/types.js';
import { newId } from './ids.js';

export interface TaskHandle {
  id: string;
  progress(fraction: number, message?: string): void;
}

export class Tasks {
  constructor(private readonly events: Emitter) {}

  async run<T>(kind: TaskKind, boxId: string | null, message: string, work: (task: TaskHandle) => Promise<T>): Promise<T> {
    const taskId = newId();
    let last = -1;
    const emit = (fraction: number, msg: string, done: boolean, error: { code: string; message: string } | null = null) =>
      this.events.emit('tasks:progress', { taskId, kind, boxId, fraction, message: msg, done, error });
    const handle: TaskHandle = {
      id: taskId,
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
    }
  }
}
