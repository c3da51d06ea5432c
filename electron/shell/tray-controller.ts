// Keeps the tray menu in step with the engine: rebuilt after every box or snapshot change,
// and while a quick snapshot runs. The tray itself is injected (TrayView), so this runs and
// is tested under Node against the real core.
import type { Api, Subscribe } from '../../shared/client.js';
import { BoxkeepError } from '../../shared/errors.js';
import { isActive, type Box, type ProtectStatus } from '../../shared/types.js';
import type { ProtectAlert } from '../../shared/events.js';
import { quickSnapshot, type Notice } from './quick-snapshot.js';
import { trayTemplate, type TrayAction, type TrayItem } from './tray-menu.js';

export interface TrayView {
  setMenu(items: TrayItem[]): void;
  setToolTip(text: string): void;
}

export interface TrayDeps {
  api: Pick<Api, 'boxes' | 'snapshots' | 'protect'>;
  on: Subscribe;
  view: TrayView;
  notify(notice: Notice): void;
  openWindow(): void;
  quit(): void;
  /** Bursts of events (a restore emits several) collapse into one rebuild. */
  debounceMs?: number;
  /** How often "in 12 min" is counted down without any event (default a minute). */
  tickMs?: number;
  now?: () => number;
  /** Start at login (shell/autostart.ts), read and set; absent: not offered. */
  autostart?: { get(): boolean; set(enabled: boolean): void };
}

/** An AutoProtect alert as the notification the shell shows: the reason is in the body. */
export function protectNotice(a: ProtectAlert): Notice {
  const titles: Record<ProtectAlert['kind'], string> = {
    failed: `Automatic snapshot of ${a.box} failed`, paused: `AutoProtect of ${a.box} paused`,
    resumed: `AutoProtect of ${a.box} resumed`, 'prune-failed': `AutoProtect of ${a.box} could not prune old snapshots`,
  };
  const title = titles[a.kind];
  return { kind: a.kind === 'resumed' ? 'success' : 'failure', title, body: a.message };
}

export interface TrayController {
  dispatch(action: TrayAction): Promise<void>;
  /** Rebuilds now; resolves when the menu is set. */
  refresh(): Promise<void>;
  dispose(): void;
}

export function startTray(deps: TrayDeps): TrayController {
  const busy = new Set<string>();
  let boxes: Box[] = [];
  let protect = new Map<string, ProtectStatus>();
  const now = deps.now ?? Date.now;
  let loadError: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let disposed = false;

  const render = () => {
    if (disposed) return;
    deps.view.setMenu(trayTemplate({ boxes, busy, loadError, protect, now: now(), autostart: deps.autostart?.get() }));
    const running = boxes.filter((b) => isActive(b.status)).length;
    deps.view.setToolTip(running ? `Boxkeep — ${running} running` : 'Boxkeep');
  };

  const refresh = async () => {
    try {
      boxes = await deps.api.boxes.list();
      // A box removed meanwhile has no status: it is left out, and the next change lists it right.
      const statuses = await Promise.all(boxes.map((b) => deps.api.protect.get({ box: b.id }).catch(() => null)));
      protect = new Map(statuses.flatMap((s) => (s ? [[s.boxId, s] as const] : [])));
      loadError = null;
    } catch (err) {
      loadError = BoxkeepError.from(err).message;
    }
    render();
  };

  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void refresh();
    }, deps.debounceMs ?? 100);
  };

  const offs = [
    deps.on('boxes:changed', schedule), deps.on('snapshots:changed', schedule), deps.on('protect:changed', schedule),
    deps.on('protect:alert', (a) => deps.notify(protectNotice(a))),
  ];
  const countdown = setInterval(render, deps.tickMs ?? 60_000);
  countdown.unref?.();

  const dispatch = async (action: TrayAction) => {
    if (action.type === 'open') return deps.openWindow();
    if (action.type === 'quit') return deps.quit();
    if (action.type === 'toggle-autostart') {
      try {
        deps.autostart?.set(!deps.autostart.get());
      } catch (err) {
        deps.notify({ kind: 'failure', title: 'Could not change starting at login', body: BoxkeepError.from(err).message });
      }
      return render();
    }
    if (busy.has(action.boxId)) return;
    busy.add(action.boxId);
    render();
    try {
      await quickSnapshot({ api: deps.api, notify: deps.notify }, { id: action.boxId, name: action.boxName, memory: action.memory });
    } finally {
      busy.delete(action.boxId);
      await refresh();
    }
  };

  void refresh();
  return {
    dispatch,
    refresh,
    dispose() {
      disposed = true;
      if (timer) clearTimeout(timer);
      clearInterval(countdown);
      for (const off of offs) off();
    },
  };
}
