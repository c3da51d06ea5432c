// app://boxkeep/ serves the built renderer (see shell/app-protocol.ts for the rules).
import { protocol } from 'electron';
import { appResponse } from '../shell/app-protocol.js';
import { APP_SCHEME } from '../shell/security.js';

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false, stream: false } }]);
}

export function serveAppScheme(rendererRoot: string): void {
  protocol.handle(APP_SCHEME, (request) => {
    const r = appResponse(rendererRoot, request.method, request.url);
    return new Response(typeof r.body === 'string' ? r.body : new Uint8Array(r.body), { status: r.status, headers: r.headers });
  });
}
