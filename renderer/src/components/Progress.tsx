import type { TaskProgress } from '../../../shared/types.js';

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
