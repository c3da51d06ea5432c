// A file comparison of two snapshots, kept as a file in the first one's folder (snapshots never
// change, so neither does the answer; a removal that merges rewrites a layer but not what any
// remaining snapshot reads). The file is read back from disk, so it is untrusted like every file
// of the home: anything not of the exact shape Boxkeep writes is ignored and compared afresh,
// never handed to the CLI or the UI.
import type { FileChange, FilesystemChanges, GuestEntry } from '../../../shared/types.js';
import { readRegularFile, writeFileDurable } from '../fsutil.js';

/** Bump when the cached comparison's shape or rules change: older files are then ignored. */
const CACHE_VERSION = 1;
const MAX_BYTES = 256 * 1024 * 1024;

export type CachedFiles = { files: FilesystemChanges[]; filesNote: string | null };

export function writeCache(file: string, compared: CachedFiles): void {
  writeFileDurable(file, JSON.stringify({ version: CACHE_VERSION, ...compared }));
}

export function readCache(file: string): CachedFiles | null {
  try {
    const raw = readRegularFile(file, MAX_BYTES);
    if (!Buffer.isBuffer(raw)) return null;
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    if (!isObject(parsed) || parsed.version !== CACHE_VERSION) return null;
    if (!Array.isArray(parsed.files) || !parsed.files.every(isFilesystemChanges)) return null;
    if (!(parsed.filesNote === undefined || parsed.filesNote === null || typeof parsed.filesNote === 'string')) return null;
    return { files: parsed.files, filesNote: parsed.filesNote ?? null };
  } catch {
    return null;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const CHANGES = new Set(['added', 'removed', 'modified']);
const KINDS = new Set(['file', 'dir', 'link', 'other']);

function isFilesystemChanges(v: unknown): v is FilesystemChanges {
  return isObject(v) && typeof v.filesystem === 'string' && typeof v.type === 'string'
    && (v.problem === null || typeof v.problem === 'string')
    && Array.isArray(v.changes) && v.changes.every(isFileChange);
}

function isFileChange(v: unknown): v is FileChange {
  return isObject(v) && typeof v.path === 'string' && typeof v.change === 'string' && CHANGES.has(v.change)
    && Array.isArray(v.what) && v.what.every((w) => typeof w === 'string')
    && (v.before === null || isEntry(v.before)) && (v.after === null || isEntry(v.after))
    && (v.change !== 'added' || v.after !== null) && (v.change !== 'removed' || v.before !== null);
}

function isEntry(v: unknown): v is GuestEntry {
  return isObject(v) && typeof v.path === 'string' && typeof v.kind === 'string' && KINDS.has(v.kind)
    && [v.mode, v.size, v.mtimeMs, v.ino, v.uid, v.gid].every(isNumber)
    && typeof v.mtimeNs === 'string' && typeof v.ctimeNs === 'string'
    && (v.target === undefined || typeof v.target === 'string');
}
