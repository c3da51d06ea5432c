// Intent records: an fsynced JSON file written before the first irreversible step of a
// multi-file operation and removed after its last. Recovery reads them at startup.
import fs from 'node:fs';
import path from 'node:path';
import { mkdirDurable, removeDurable, writeFileDurable } from './fsutil.js';

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
}

export function readIntents(dir: string): JournalRead {
  const out: JournalRead = { intents: [], corrupt: [] };
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    if (name.includes('.tmp-')) {
      // A record whose write never finished: the operation never started its first step.
      out.corrupt.push({ file, reason: 'an unfinished write of an intent record' });
      continue;
    }
    if (!name.endsWith('.json')) continue;
    try {
      const text = fs.readFileSync(file, 'utf8');
      if (text.length > 1_000_000) throw new Error('record is larger than 1 MB');
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
