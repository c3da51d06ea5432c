// Taking a home: the folder checked and made private, the owner's lock, the database. The
// whole engine (core.ts) and a read-only opening (reader.ts) take it the same way.
import fs from 'node:fs';
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
    return { paths, lock, store: new Store(paths.db, (id) => paths.liveDisk(id)) };
  } catch (err) {
    lock.release();
    throw err;
  }
}
