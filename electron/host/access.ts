// Who may talk to the web host: a request must come to our own loopback host name (no DNS
// rebinding), from our own origin when a browser says where it comes from, and carry the
// random token printed with the URL (in the query, or in the cookie set when the page loaded).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_PARAM = 'token';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Cookies ignore ports, so two hosts on one machine need two cookie names. */
export const cookieName = (port: number) => `boxkeep_${port}`;

export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

export type AccessDecision =
  | { ok: true; tokenInQuery: boolean }
  | { ok: false; status: 401 | 403 | 421; message: string };

export function allowedOrigins(port: number): string[] {
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

export function checkAccess(req: Pick<IncomingMessage, 'headers' | 'url'>, port: number, token: string): AccessDecision {
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
  const query = tokenFromUrl(req.url ?? '/');
  const cookie = tokenFromCookie(req.headers.cookie, port);
  const given = query ?? cookie;
  if (given === null) {
    return { ok: false, status: 401, message: 'This Boxkeep host needs its access token: open the full URL that `boxkeep serve` printed (it ends in ?token=...).' };
  }
  if (!sameSecret(given, token)) {
    return { ok: false, status: 403, message: 'The access token is wrong (each `boxkeep serve` run prints a new one): open the URL it printed this time.' };
  }
  return { ok: true, tokenInQuery: query !== null };
}

function tokenFromUrl(url: string): string | null {
  try {
    return new URL(url, 'http://127.0.0.1').searchParams.get(TOKEN_PARAM);
  } catch {
    return null;
  }
}

function tokenFromCookie(header: string | undefined, port: number): string | null {
  if (!header) return null;
  const prefix = cookieName(port) + '=';
  for (const part of header.split(';')) {
    const trimmed = part.trim();
    if (trimmed.startsWith(prefix)) return trimmed.slice(prefix.length);
  }
  return null;
}

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
