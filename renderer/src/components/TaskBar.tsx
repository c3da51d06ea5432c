// Long work in flight anywhere (another window, the CLI through the app): one bar per task.
import { useShallow } from 'zustand/react/shallow';
import { useApp } from '../context.js';
import { Progress } from './Progress.js';

const WHAT = {
  'snapshot-create': 'Taking a snapshot',
  'snapshot-restore': 'Restoring a snapshot',
  'snapshot-remove': 'Deleting a snapshot',
  'image-import': 'Importing an image',
  'box-create': 'Creating a box',
  'box-remove': 'Removing a box',
  'box-export': 'Exporting a box',
  'box-import': 'Importing a box',
  'box-clone': 'Cloning a box',
  'snapshot-diff': 'Comparing snapshots',
} as const;

export function TaskBar() {
  const tasks = useApp(useShallow((s) => Object.values(s.tasks)));
  const boxes = useApp((s) => s.boxes);
  if (tasks.length === 0) return null;
  return (
    <section className="taskbar" aria-label="Work in progress">
      {tasks.map((t) => {
        const box = t.boxId ? boxes.find((b) => b.id === t.boxId) : null;
        return <Progress key={t.taskId} task={t} label={`${WHAT[t.kind]}${box ? ` in ${box.name}` : ''}`} />;
      })}
    </section>
  );
}
