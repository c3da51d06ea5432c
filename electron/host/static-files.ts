// Maps a request path to a file of the built renderer. Shared by the web host and the
// Electron app:// handler, so both refuse the same things: anything outside the folder,
// dot-files, encoded separators and NUL bytes.
import fs from 'node:fs';
import path from 'node:path';

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export type StaticLookup =
  | { kind: 'file'; file: string; contentType: string; isIndex: boolean }
  | { kind: 'missing' }
  | { kind: 'refused'; reason: string };

/**
 * Resolves `pathname` (already stripped of query and hash) under `root`. Paths without an
 * extension fall back to index.html so the renderer can own its routes.
 */
export function lookupStatic(root: string, pathname: string): StaticLookup {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { kind: 'refused', reason: 'The path is not valid percent-encoding.' };
  }
  if (decoded.includes('\0')) return { kind: 'refused', reason: 'The path contains a NUL byte.' };
  if (decoded.includes('\\') || /%2f|%5c/i.test(pathname)) return { kind: 'refused', reason: 'The path contains an encoded separator.' };
  const segments = decoded.split('/').filter((s) => s.length > 0);
  if (segments.some((s) => s === '..' || s.startsWith('.'))) return { kind: 'refused', reason: 'The path leaves the app folder or names a hidden file.' };

  const base = path.resolve(root);
  const wantsIndex = segments.length === 0 || path.extname(segments[segments.length - 1]!) === '';
  const file = wantsIndex ? path.join(base, 'index.html') : path.join(base, ...segments);
  // Belt and braces: the joined path must still be inside the folder, after symlinks too.
  if (!isInside(base, file)) return { kind: 'refused', reason: 'The path leaves the app folder.' };
  let real: string;
  try {
    real = fs.realpathSync(file);
    if (!fs.statSync(real).isFile()) return { kind: 'missing' };
  } catch {
    return { kind: 'missing' };
  }
  if (!isInside(fs.realpathSync(base), real)) return { kind: 'refused', reason: 'The path leaves the app folder.' };
  const contentType = CONTENT_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream';
  return { kind: 'file', file: real, contentType, isIndex: wantsIndex };
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Whether the renderer has been built into `root`. */
export function rendererBuilt(root: string): boolean {
  return fs.existsSync(path.join(root, 'index.html'));
}
