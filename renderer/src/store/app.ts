// One renderer session: the store, what keeps it current, and what a person can do with it.
import type { BoxkeepBridge } from '../../../shared/client.js';
import { createActions, type Actions } from './actions.js';
import { createAppStore, type AppStore } from './state.js';
import { createSync, type Sync } from './sync.js';

export interface App {
  store: AppStore;
  sync: Sync;
  actions: Actions;
  dispose(): void;
}

export function createApp(bridge: BoxkeepBridge): App {
  const store = createAppStore();
  const sync = createSync(store, bridge);
  const actions = createActions(store, bridge, sync);
  return { store, sync, actions, dispose: () => sync.dispose() };
}
