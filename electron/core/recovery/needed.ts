// Whether opening the home has anything to recover. Every operation that touches more than one
// file writes an intent record first, and only a box recorded as running (or stopping) has a
// QEMU to adopt or retire; with neither, the settle and adopt steps have nothing to do. A layer
// frozen before its facts were kept (an older Boxkeep) gets them from reconcile: that needs it too.
// A JSON column that does not read (recovery/columns.ts) needs it too, and is looked for without
// reading rows whole: a box list would fail on it before recovery could set it aside.
import { BOX_STATUSES, isBusy, type BoxStatus } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { hasEntries } from '../journal.js';
import { unreadableColumns } from './columns.js';
import { rowsNameAnotherHome } from '../relocate/relocate.js';

export function recoveryNeeded({ paths, store }: HomeData): boolean {
  const boxes = store.db.prepare('SELECT id, status FROM boxes').all() as { id: string; status: BoxStatus }[];
  // A state this version does not know reads as stopping (store.ts): adoption decides.
  if (boxes.some((b) => isBusy(b.status) || !BOX_STATUSES.includes(b.status))) return true;
  if (store.layersWithoutFacts() > 0) return true;
  if (unreadableColumns(store.db).length > 0) return true;
  if (rowsNameAnotherHome({ paths, store })) return true;
  return [paths.homeJournal, ...boxes.map((b) => paths.boxJournal(b.id))].some(hasEntries);
}
