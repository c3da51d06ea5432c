// The owner's own writes raise events as they happen. Anything else that writes the database
// (a tool run against the home by hand, a second process that got past the lock) is noticed
// here: SQLite bumps PRAGMA data_version only for commits made by *other* connections, so a
// cheap poll tells the UI to reload within a second without echoing our own changes.
import type Database from 'better-sqlite3';
import type { Emitter } from '../../shared/events.js';

export function watchForeignChanges(db: Database.Database, events: Emitter, intervalMs = 500): () => void {
  let last = read(db);
  const timer = setInterval(() => {
    if (!db.open) return;
    const now = read(db);
    if (now !== last) {
      last = now;
      events.emit('boxes:changed', { boxId: null });
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function read(db: Database.Database): number {
  try {
    return db.pragma('data_version', { simple: true }) as number;
  } catch {
    return -1;
  }
}
