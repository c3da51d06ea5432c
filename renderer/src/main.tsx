// Entry point: connect to the engine (preload in Electron, WebSocket from `boxkeep serve`),
// build the session, render, then load.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { SessionProvider } from './context.js';
import { watchTreeTiming } from './perf.js';
import { keyHost } from './platform.js';
import { createApp } from './store/app.js';
import { errorText } from './store/errors.js';
import type { AppStore } from './store/state.js';
import { carryInlineStylesToCssom } from './terminal/cssom-styles.js';
import { connectBridge } from './transport.js';
import './styles/theme.css';
import './styles/base.css';
import './styles/frame.css';
import './styles/box.css';
import './styles/tree.css';
import './styles/dialogs.css';

// Before anything renders: the terminal's inline styles go to the CSSOM, which the CSP allows.
carryInlineStylesToCssom();

const root = createRoot(document.getElementById('root')!);
root.render(
  <main className="loading" aria-busy="true">
    <p role="status">Connecting to Boxkeep…</p>
  </main>,
);

let store: AppStore | null = null;
connectBridge({
  onStatus: (status, detail) =>
    store?.setState(status === 'connected' ? { connection: 'ready', connectionError: null } : status === 'lost' ? { connection: 'lost', connectionError: detail ?? null } : { connection: 'reconnecting' }),
})
  .then((bridge) => {
    const app = createApp(bridge);
    store = app.store;
    watchTreeTiming(app.store);
    root.render(
      <StrictMode>
        <SessionProvider value={{ ...app, keys: keyHost() }}>
          <App />
        </SessionProvider>
      </StrictMode>,
    );
    // A failed first load is shown by <App> from the store's connection state.
    return app.sync.start().catch(() => {});
  })
  .catch((err) => {
    root.render(
      <main className="fatal" aria-labelledby="fatal-title">
        <h1 id="fatal-title">Boxkeep cannot reach its engine</h1>
        <p role="alert">{errorText(err)}</p>
      </main>,
    );
  });
