import type { TaskProgress } from '../../../shared/types.js';

/**
 * Where a dialog shows its progress: the room is kept while idle, so starting the work does
 * not push the buttons down or make the dialog jump.
 */
export function ProgressSlot({ busy, task, label }: { busy: boolean; task: TaskProgress | null; label: string }) {
  return <div className="progress-slot">{busy && <Progress task={task} label={label} />}</div>;
}

/** A task's progress: a real bar with its percentage and what is happening, in words. */
export function Progress({ task, label }: { task: TaskProgress | null; label: string }) {
  const percent = task ? Math.round(task.fraction * 100) : 0;
  return (
    <div className="progress" data-testid="progress">
      <div className="progress-text">
        <span>{task?.message || label}</span>
        <span>{task ? `${percent}%` : 'starting…'}</span>
      </div>
      <progress aria-label={label} max={100} value={task ? percent : undefined} />
    </div>
  );
}
