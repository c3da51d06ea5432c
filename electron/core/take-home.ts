// Taking a home: the folder checked and made private, the owner's lock, the database. The
// whole engine (core.ts) and a read-only opening (reader.ts) take it the same way.
import fs from 'node:fs';
import { storageError } from '../../shared/errors.js';
import { isId } from './ids.js';
import { privateHome } from './home.js';
import { HomeLock, type OwnerKind } from './lock.js';
import { HomePaths } from './paths.js';
import { Store } from './store/store.js';

export interface TakenHome {
  paths: HomePaths;
  store: Store;
  lock: HomeLock;
}

export function takeHome(home: string, owner: OwnerKind): TakenHome {
  // Canonical from the start: backing paths written into qcow2 headers must be canonical,
  // and recovery compares them with the paths derived here.
  const paths = new HomePaths(fs.realpathSync(privateHome(home)));
  const lock = HomeLock.acquire(paths.lock, owner);
  try {
    refuseLostDatabase(paths);
    return { paths, lock, store: new Store(paths.db, (id) => paths.liveDisk(id)) };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * A home whose database is gone or empty (truncated, deleted) while its folders still hold boxes
 * or images: opened as it is, it would be a new home, and its recovery would take every box and
 * image folder for a stray and move it to orphans/. Refused instead, nothing touched.
 */
function refuseLostDatabase(paths: HomePaths): void {
  const db = fs.statSync(paths.db, { throwIfNoEntry: false });
  if (db && db.size > 0) return;
  const count = (dir: string) => {
    try {
      return fs.readdirSync(dir).filter(isId).length;
    } catch {
      return 0;
    }
  };
  const boxes = count(paths.boxesDir);
  const images = count(paths.imagesDir);
  if (boxes + images === 0) return;
  const held = [boxes ? `${boxes} box folder${boxes === 1 ? '' : 's'}` : null, images ? `${images} image folder${images === 1 ? '' : 's'}` : null].filter(Boolean).join(' and ');
  throw storageError(
    `The Boxkeep home ${paths.root} holds ${held}, but its database (${paths.db}) is ${db ? 'empty' : 'missing'}. ` +
      'Boxkeep did not open it: as a new home, every box and image would look like a stray. ' +
      'Put back boxkeep.db from a backup; to start over instead, move the boxes and images folders out of the home first.',
  );
}
