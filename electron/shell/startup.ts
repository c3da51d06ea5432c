// The app's startup, in the order the design requires: one instance, then take the home and
// run recovery (which adopts boxes left running), then listen for the renderer, and only then
// open the window; the recovery report is shown when recovery did anything. If `boxkeep serve`
// already owns the home, the app becomes its client over the control socket instead.
import { createApi, type Api, type Subscribe } from '../../shared/client.js';
import { BoxkeepError } from '../../shared/errors.js';
import { EVENT_NAMES, type EventMap, type EventName } from '../../shared/events.js';
import type { Router } from '../../shared/transport.js';
import type { RecoveryReport } from '../../shared/types.js';
import type { Logger } from '../core/logger.js';
import { HomePaths } from '../core/paths.js';
import { connectControl } from '../host/control-client.js';
import { startOwner, type Owner } from '../host/owner.js';

export interface AppPlatform {
  home: string;
  logger: Logger;
  /** app.requestSingleInstanceLock(): false when another instance runs (it is told to show itself). */
  claimSingleInstance(): boolean;
  whenReady(): Promise<void>;
  /** Binds every channel to ipcMain, with the sender check. */
  bindIpc(router: Router): void;
  /** Sends an event to every window. */
  broadcast<E extends EventName>(event: E, payload: EventMap[E]): void;
  openMainWindow(): void;
  showRecovery(report: RecoveryReport): void;
  /** Shows a blocking error; the caller exits afterwards. */
  fatal(title: string, message: string): void;
  exit(code: number): void;
}

export interface AppRuntime {
  mode: 'owner' | 'forwarding';
  router: Router;
  api: Api;
  on: Subscribe;
  /** Null when forwarding: the other process owns the home and its boxes. */
  owner: Owner | null;
  close(): Promise<void>;
}

export async function startApp(p: AppPlatform): Promise<AppRuntime | null> {
  if (!p.claimSingleInstance()) {
    p.exit(0);
    return null;
  }
  await p.whenReady();
  let owner: Owner | null = null;
  let router: Router;
  let closeLink = async () => {};
  try {
    const forward = await connectControl(new HomePaths(p.home).controlSocket);
    if (forward) {
      router = forward;
      closeLink = async () => forward.close();
      p.logger.info('forwarding to the process that owns the home', { op: 'startup', home: p.home });
    } else {
      owner = await startOwner({ home: p.home, kind: 'app', logger: p.logger, via: 'ipc' });
      router = owner.router;
      closeLink = () => owner!.close();
    }
  } catch (err) {
    const e = BoxkeepError.from(err);
    p.logger.error('startup failed', { op: 'startup', code: e.code, error: e.message });
    p.fatal('Boxkeep cannot open its home', `${e.message}\n\nHome: ${p.home}`);
    p.exit(1);
    return null;
  }

  const offs = EVENT_NAMES.map((event) => router.on(event, (payload) => p.broadcast(event, payload as never)));
  p.bindIpc(router);
  p.openMainWindow();
  const report = owner?.core.lastRecovery;
  if (report && report.items.length > 0) p.showRecovery(report);

  return {
    mode: owner ? 'owner' : 'forwarding',
    router,
    api: createApi((channel, input) => router.invoke(channel, input)),
    on: (event, listener) => router.on(event, listener),
    owner,
    async close() {
      for (const off of offs) off();
      await closeLink();
    },
  };
}

/** One line for a notification: what recovery did, counted by kind. */
export function recoverySummary(report: RecoveryReport): string {
  const repaired = report.items.filter((i) => i.level === 'repaired').length;
  const kept = report.items.filter((i) => i.level === 'kept').length;
  const parts = [repaired && `repaired ${repaired} ${repaired === 1 ? 'thing' : 'things'}`, kept && `kept ${kept} ${kept === 1 ? 'item' : 'items'} for you to check`].filter(Boolean);
  return parts.length ? `Recovery ${parts.join(' and ')} after the last run. Details: Help › Show Last Recovery Report.` : 'Recovery checked the home after the last run.';
}
