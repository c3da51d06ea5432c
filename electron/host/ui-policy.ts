// What every page of the UI is served with, whoever serves it: the web host over HTTP and the
// Electron shell over app:// (and onto its dev server's responses). Kept below both, in host/,
// so the shell uses it and the web host does not reach up into the shell for it.

/**
 * No inline script, no remote origin. The Electron window talks over IPC, so it may connect
 * nowhere but its own origin; a page of the web host may open one WebSocket: its own host's
 * (webHostCsp), never another local port. style-src stays 'self': React's style props go
 * through the CSSOM, which CSP does not gate. img-src's data: is also what the Display tab's
 * noVNC needs (its cursor is a CSS url(data:…), JPEG/PNG rectangles decode through data: images).
 */
const cspWith = (connect: string) => [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  `connect-src ${connect}`,
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

export const CSP = cspWith("'self'");

export function webHostCsp(port: number): string {
  return cspWith(`'self' ws://127.0.0.1:${port} ws://localhost:${port}`);
}

/** Headers sent with every page and asset, by the web host and by the app:// handler. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  // The web host's URL carries its access token: never send it on as a referrer.
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
