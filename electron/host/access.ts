// Who may talk to the web host: every request must come to our own loopback host name (no
// DNS rebinding) and from our own origin when a browser says where it comes from. The
// WebSocket, which is the whole API, also needs the random token printed with the URL. The
// page and its assets are the public UI build and need no token, so no cookie carries it:
// cookies ignore ports, and one would be sent to every other server on 127.0.0.1.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_PARAM = 'token';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export type AccessDecision =
  | { ok: true }
  | { ok: false; status: 401 | 403 | 421; message: string };

export function allowedOrigins(port: number): string[] {
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

/** Host and Origin: for every request, page, asset or WebSocket. */
export function checkOrigin(req: Pick<IncomingMessage, 'headers'>, port: number): AccessDecision {
  const host = req.headers.host ?? '';
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
    return { ok: false, status: 421, message: `This Boxkeep host answers only at http://127.0.0.1:${port}/ (the request named host ${JSON.stringify(host.slice(0, 100))}).` };
  }
  const origin = req.headers.origin;
  // Browsers always send Origin on WebSocket handshakes and cross-origin requests; a
  // non-browser client (a script with the token) may omit it.
  if (origin !== undefined && !allowedOrigins(port).includes(origin)) {
    return { ok: false, status: 403, message: `Requests from the origin ${JSON.stringify(origin.slice(0, 100))} are refused: only pages served by this Boxkeep host may use it.` };
  }
  return { ok: true };
}

/** Host, Origin and the token in the query: for the WebSocket. */
export function checkAccess(req: Pick<IncomingMessage, 'headers' | 'url'>, port: number, token: string): AccessDecision {
  const origin = checkOrigin(req, port);
  if (!origin.ok) return origin;
  const given = tokenFromUrl(req.url ?? '/');
  if (given === null) {
    return { ok: false, status: 401, message: 'This Boxkeep host needs its access token: open the full URL that `boxkeep serve` printed (it ends in ?token=...).' };
  }
  if (!sameSecret(given, token)) {
    return { ok: false, status: 403, message: 'The access token is wrong (it changes with `boxkeep serve --new-token`): open the URL `boxkeep serve` printed last.' };
  }
  return { ok: true };
}

function tokenFromUrl(url: string): string | null {
  try {
    return new URL(url, 'http://127.0.0.1').searchParams.get(TOKEN_PARAM);
  } catch {
    return null;
  }
}

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
