// Gives every component the session (store + actions) without prop drilling.
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { KeyHost } from './keyboard.js';
import type { App } from './store/app.js';
import type { AppState } from './store/state.js';

export interface RendererSession extends App {
  /** Which shortcuts work here: the platform, and Electron or a browser tab. */
  keys: KeyHost;
}

const SessionContext = createContext<RendererSession | null>(null);
export const SessionProvider = SessionContext.Provider;

export function useSession(): RendererSession {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession must be used inside <SessionProvider>.');
  return session;
}

/** Subscribes to one slice of the store. Selectors must return stable values (no new objects). */
export function useApp<T>(selector: (state: AppState) => T): T {
  return useStore(useSession().store, selector);
}

export const useActions = () => useSession().actions;
