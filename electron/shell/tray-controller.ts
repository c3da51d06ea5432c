// Keeps the tray menu in step with the engine: rebuilt after every box or snapshot change,
// and while a quick snapshot runs. The tray itself is injected (TrayView), so this runs and
// is tested under Node against the real core.
import type { Api, Subscribe } from '../../shared/client.js';
import { BoxkeepError } from '../../shared/errors.js';
import { isActive, type Box } from '../../shared/types.js';
import { quickSnapshot, type Notice } from './quick-snapshot.js';
import { trayTemplate, type TrayAction, type TrayItem } from './tray-menu.js';

export interface TrayView {
  setMenu(items: TrayItem[]): void;
  setToolTip(text: string): void;
}

export interface TrayDeps {
  api: Pick<Api, 'boxes' | 'snapshots'>;
  on: Subscribe;
  view: TrayView;
  notify(notice: Notice): void;
  openWindow(): void;
  quit(): void;
  /** Bursts of events (a restore emits several) collapse into one rebuild. */
  debounceMs?: number;
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
  let loadError: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let disposed = false;

  const render = () => {
    if (disposed) return;
    deps.view.setMenu(trayTemplate({ boxes, busy, loadError }));
    const running = boxes.filter((b) => isActive(b.status)).length;
    deps.view.setToolTip(running ? `Boxkeep — ${running} running` : 'Boxkeep');
  };

  const refresh = async () => {
    try {
      boxes = await deps.api.boxes.list();
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

  const offs = [deps.on('boxes:changed', schedule), deps.on('snapshots:changed', schedule)];

  const dispatch = async (action: TrayAction) => {
    if (action.type === 'open') return deps.openWindow();
    if (action.type === 'quit') return deps.quit();
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
      for (const off of offs) off();
    },
  };
}
