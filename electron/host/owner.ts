// The process that owns a home: the Electron app or `boxkeep serve`. Order matters and is the
// one the design states: take the home and run recovery (which adopts running boxes) before
// anything can reach the router, then open the control socket so the CLI forwards here.
import type { Router } from '../../shared/transport.js';
import type { Logger } from '../core/logger.js';
import { openCore, type Core } from '../core/core.js';
import { createRouter } from '../core/router.js';
import { startControlServer, type ControlServer } from './control-server.js';
import { watchForeignChanges } from './foreign-changes.js';
import { loggedRouter } from './logged-router.js';
import { ProtectScheduler, type Clock } from '../core/protect/scheduler.js';

export interface Owner {
  core: Core;
  /** The router with operation logging; bind every transport to this one. */
  router: Router;
  /** Null when the socket could not be opened (the reason is logged); the owner still works. */
  control: ControlServer | null;
  /** AutoProtect's schedule: the owner of the home is who runs it, window open or not. */
  scheduler: ProtectScheduler;
  close(): Promise<void>;
}

export async function startOwner(opts: { home: string; kind: 'app' | 'host' | 'test'; logger: Logger; via?: string; clock?: Clock; tickMs?: number }): Promise<Owner> {
  const core = await openCore({ home: opts.home, owner: opts.kind, logger: opts.logger });
  const router = loggedRouter(createRouter(core), opts.logger, opts.via ?? opts.kind);
  const stopWatching = watchForeignChanges(core.store.db, core.events);
  let control: ControlServer | null = null;
  try {
    control = await startControlServer({ router: loggedRouter(createRouter(core), opts.logger, 'cli'), socketPath: core.paths.controlSocket, logger: opts.logger });
  } catch (err) {
    opts.logger.warn('control socket unavailable: `boxkeep` commands cannot reach this process', { op: 'control-listen', error: (err as Error).message });
  }
  // After recovery (openCore) adopted the running boxes: the first tick sees them as they are.
  const scheduler = new ProtectScheduler(core, opts.clock, opts.tickMs);
  scheduler.start();
  return {
    core,
    router,
    control,
    scheduler,
    async close() {
      await scheduler.stop();
      stopWatching();
      await control?.close();
      await core.close();
    },
  };
}
