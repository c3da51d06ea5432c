// Building blocks of the services' dependency types. Each service declares what it needs
// beside itself, from these; core.ts (the composition root) builds them. Nothing in
// electron/core imports core.ts, so a service's needs are read in its own file.
import type { Emitter } from '../../shared/events.js';
import type { Logger } from './logger.js';
import type { KeyedMutex } from './mutex.js';
import type { HomePaths } from './paths.js';
import type { Store } from './store/store.js';
import type { Trash } from './trash.js';

/** The home's files and rows: what every step and every check reads. */
export interface HomeData {
  paths: HomePaths;
  store: Store;
  /** The open home's trash (the engine's); absent (recovery, the reader), what goes is deleted at once. */
  trash?: Trash;
}

/** What a service that changes things needs besides: the queues, the change events, the log. */
export interface Effects {
  locks: KeyedMutex;
  events: Emitter;
  logger: Logger;
}
