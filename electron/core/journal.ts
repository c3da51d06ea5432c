// Intent records: an fsynced JSON file written before the first irreversible step of a
// multi-file operation and removed after its last. Recovery reads them at startup.
import fs from 'node:fs';
import path from 'node:path';
import { kindOf, mkdirDurable, readRegularFile, removeDurable, writeFileDurable } from './fsutil.js';

export interface IntentBase {
  id: string;
  op: string;
  startedAt: number;
}

export function writeIntent<T extends IntentBase>(dir: string, intent: T): void {
  mkdirDurable(dir);
  writeFileDurable(path.join(dir, `${intent.id}.json`), JSON.stringify(intent));
}

export function clearIntent(dir: string, id: string): void {
  removeDurable(path.join(dir, `${id}.json`));
}

export interface JournalRead {
  intents: { file: string; intent: IntentBase & Record<string, unknown> }[];
  /** Files that could not be parsed as an intent: recovery deletes and reports them. */
  corrupt: { file: string; reason: string }[];
  /** Entries that are not files at all (a folder, a FIFO, a link): recovery moves them to orphans/. */
  foreign: { file: string; what: string }[];
}

const MAX_RECORD = 1_000_000;

/** The first record of an operation kind in a journal (e.g. a box's unsettled live snapshot), or null. */
export function findIntent(dir: string, op: string): (IntentBase & Record<string, unknown>) | null {
  return readIntents(dir).intents.find((r) => r.intent.op === op)?.intent ?? null;
}

/** A journal with any entry in it (a record, or something recovery must look at), or one that is not a real folder. */
export function hasEntries(dir: string): boolean {
  try {
    // A journal that is not a real folder (a symlink) is for recovery to move aside.
    if (!fs.lstatSync(dir).isDirectory()) return true;
    return fs.readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/**
 * Every record in a journal. A home can be edited by hand: an entry is opened only if it is
 * a regular file, and checked again once open, so nothing in a journal can hang or crash
 * every command.
 */
export function readIntents(dir: string): JournalRead {
  const out: JournalRead = { intents: [], corrupt: [], foreign: [] };
  // The folder itself must be a real folder of the home: a symlink would let records be read
  // (and moved) wherever it points. It is reported like any other thing that is not a record.
  let folder: fs.Stats | undefined;
  try {
    folder = fs.lstatSync(dir, { throwIfNoEntry: false });
  } catch (err) {
    // The box folder above it is no folder (a file put in its place): no journal, and
    // recovery's checks report the box folder itself.
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return out;
    throw err;
  }
  if (!folder) return out;
  if (!folder.isDirectory()) {
    out.foreign.push({ file: dir, what: kindOf(folder) });
    return out;
  }
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    const unfinished = name.includes('.tmp-');
    if (!unfinished && !name.endsWith('.json')) continue;
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isFile()) {
      out.foreign.push({ file, what: kindOf(st) });
      continue;
    }
    if (unfinished) {
      // A record whose write never finished: the operation never started its first step.
      out.corrupt.push({ file, reason: 'an unfinished write of an intent record' });
      continue;
    }
    let text: string;
    try {
      const read = readRecord(file);
      if (typeof read !== 'string') {
        out.foreign.push({ file, what: read.what });
        continue;
      }
      text = read;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code === 'ELOOP') out.foreign.push({ file, what: 'a symbolic link' });
      else out.corrupt.push({ file, reason: (err as Error).message });
      continue;
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
      const { id, op, startedAt } = parsed as Record<string, unknown>;
      if (typeof id !== 'string' || typeof op !== 'string' || typeof startedAt !== 'number') throw new Error('missing id, op or startedAt');
      out.intents.push({ file, intent: parsed as IntentBase & Record<string, unknown> });
    } catch (err) {
      out.corrupt.push({ file, reason: (err as Error).message });
    }
  }
  return out;
}

/** The file's text, or what it turned out to be once open (it was swapped after the lstat). */
function readRecord(file: string): string | { what: string } {
  const read = readRegularFile(file, MAX_RECORD);
  return Buffer.isBuffer(read) ? read.toString('utf8') : read;
}
