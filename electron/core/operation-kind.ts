// One kind of crash-safe operation, as its folder declares it (e.g. images/intents.ts): the
// schema of its intent record (the TypeScript type is inferred from it), the crash points
// between its steps, and the journaled sequence its steps run in. operations.ts lists the
// kinds with their settle functions.
import path from 'node:path';
import * as v from 'valibot';
import { crashPoint } from './crash.js';
import { ID_PATTERN } from './ids.js';
import { SNAPSHOT_TAKEN } from '../../shared/types.js';
import { clearIntent, writeIntent } from './journal.js';

/**
 * What intent schemas are made of, for one home. An intent record is a file read back from
 * disk: every id must be an id (ids name folders, so "../x" would escape) and every path must
 * lie inside the home. A record that fails is treated like an unreadable one.
 */
export function intentParts(home: string) {
  const id = v.pipe(v.string(), v.regex(ID_PATTERN));
  const nullableId = v.nullable(id);
  const inHome = v.pipe(
    v.string(),
    v.maxLength(4096),
    v.check((p) => path.isAbsolute(p) && path.normalize(p) === p && p.startsWith(home + path.sep), 'a path outside the home'),
  );
  const base = { id, startedAt: v.number() };
  const dependent = v.object({ path: inHome, snapshotId: nullableId });
  const snapshot = v.object({
    id, boxId: id, parentId: nullableId, name: v.string(), description: v.string(), createdAt: v.number(),
    sizeOnDisk: v.number(), virtualSize: v.number(), live: v.boolean(), diskPath: inHome,
    // Absent in intents written before migration 9: commitCreateRow goes by live.
    taken: v.optional(v.picklist(SNAPSHOT_TAKEN)),
  });
  const nodeName = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9]{0,30}$/));
  const node = v.object({ format: nodeName, file: nodeName });
  return { id, nullableId, inHome, base, dependent, snapshot, node };
}

export type IntentParts = ReturnType<typeof intentParts>;

export interface IntentKind<Op extends string = string, S extends v.GenericSchema = v.GenericSchema, P extends string = string> {
  op: Op;
  schema(parts: IntentParts): S;
  /** The points between its steps (BOXKEEP_CRASH_AT=<op>:<point>); every kind has after-intent. */
  crashPoints: readonly P[];
  /** Crash injection at one of its points. */
  crash(point: P): void;
  /**
   * The journaled sequence: record the intent, crash point after-intent, the steps, clear the
   * record. A crash anywhere leaves the record for recovery; a step that fails runs
   * `onFailure` (which decides whether the record may go) before the error goes on.
   */
  journaled<T>(journal: string, intent: v.InferOutput<S>, steps: () => Promise<T>, opts?: { onFailure?: (err: unknown) => void }): Promise<T>;
}

/** The record type of a kind, inferred from its schema. */
export type IntentOf<K extends IntentKind> = K extends IntentKind<string, infer S> ? v.InferOutput<S> : never;

export function intentKind<const Op extends string, S extends v.GenericSchema, const P extends string>(
  op: Op,
  schema: (parts: IntentParts) => S,
  crashPoints: readonly ['after-intent', ...P[]],
): IntentKind<Op, S, P | 'after-intent'> {
  const crash = (point: P | 'after-intent') => crashPoint(`${op}:${point}`);
  return {
    op, schema, crashPoints, crash,
    async journaled(journal, intent, steps, opts = {}) {
      writeIntent(journal, intent as { id: string; op: string; startedAt: number });
      crash('after-intent');
      let result;
      try {
        result = await steps();
      } catch (err) {
        opts.onFailure?.(err);
        throw err;
      }
      clearIntent(journal, (intent as { id: string }).id);
      return result;
    },
  };
}
