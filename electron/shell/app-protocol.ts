// The app:// scheme the packaged renderer loads from. A custom secure scheme (not file://)
// gives the page a real origin, so 'self' in the CSP means the app and nothing else on disk.
import fs from 'node:fs';
import { lookupStatic } from '../host/static-files.js';
import { SECURITY_HEADERS } from '../host/ui-policy.js';
import { APP_HOST, APP_SCHEME } from './security.js';

export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

export interface AppResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** Answers one app:// request from the built renderer in `root`. GET only; only our host. */
export function appResponse(root: string, method: string, rawUrl: string): AppResponse {
  const text = (status: number, message: string): AppResponse => ({ status, headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }, body: message });
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return text(400, 'Bad URL.');
  }
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return text(404, 'Not part of Boxkeep.');
  if (method !== 'GET' && method !== 'HEAD') return text(405, 'Only GET.');
  // The raw path, before URL normalisation, so "%2e%2e" is refused rather than resolved.
  const rawPath = rawUrl.slice(`${APP_SCHEME}://${APP_HOST}`.length).split(/[?#]/)[0] || '/';
  const found = lookupStatic(root, rawPath);
  if (found.kind === 'refused') return text(400, found.reason);
  if (found.kind === 'missing') return text(404, 'No such file in the app.');
  return { status: 200, headers: { ...SECURITY_HEADERS, 'Content-Type': found.contentType, 'Cache-Control': 'no-cache' }, body: method === 'HEAD' ? '' : fs.readFileSync(found.file) };
}
