// An intent record is a file read back from disk: before recovery acts on one, its shape is
// checked, every id must be an id (ids name folders, so "../x" would escape) and every path
// must lie inside the home. A record that fails is treated like an unreadable one.
import path from 'node:path';
import * as v from 'valibot';
import { ID_PATTERN } from '../ids.js';

export function intentSchemas(home: string) {
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
  });
  const removeFacts = {
    ...base, boxId: id, snapshotId: id, snapshotPath: inHome, parentPath: inHome, parentId: nullableId,
    mode: v.picklist(['delete', 'commit', 'rebase']), dependents: v.array(dependent),
  };
  const node = v.object({ format: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9]{0,30}$/)), file: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9]{0,30}$/)) });
  return {
    'image-import': v.object({ ...base, op: v.literal('image-import'), imageId: id }),
    'image-remove': v.object({ ...base, op: v.literal('image-remove'), imageId: id }),
    'box-create': v.object({ ...base, op: v.literal('box-create'), boxId: id }),
    'box-remove': v.object({ ...base, op: v.literal('box-remove'), boxId: id }),
    'snapshot-create': v.object({ ...base, op: v.literal('snapshot-create'), boxId: id, snapshot }),
    'snapshot-restore': v.object({ ...base, op: v.literal('snapshot-restore'), boxId: id, snapshotId: id, snapshotPath: inHome, previousCurrentId: nullableId }),
    'snapshot-remove': v.object({ ...removeFacts, op: v.literal('snapshot-remove') }),
    'live-create': v.object({ ...base, op: v.literal('live-create'), boxId: id, snapshot, generation: v.number(), oldTop: node, newTop: node, wasPaused: v.boolean() }),
    'live-remove': v.object({ ...removeFacts, op: v.literal('live-remove'), streamInto: dependent, others: v.array(dependent) }),
  } as const;
}

/** Null when the record may be acted on, else why not. */
export function intentProblem(home: string, intent: Record<string, unknown>): string | null {
  const schemas = intentSchemas(home) as Record<string, v.GenericSchema>;
  const schema = schemas[String(intent.op)];
  if (!schema) return null; // an operation this build does not know: kept for a newer Boxkeep
  const parsed = v.safeParse(schema, intent);
  if (parsed.success) return null;
  const issue = parsed.issues[0]!;
  return `${v.getDotPath(issue) ?? 'record'}: ${issue.message}`;
}
