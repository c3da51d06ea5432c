// The JSON the database keeps in a column: a box's port forwards and cloud-init settings, and
// its AutoProtect policy. Read back checked, as an archive's manifest is: the database is a
// file a person, another program or a damaged disk can change, and a value that parsed but is
// not what Boxkeep wrote (a forward with port 0, a policy whose keepLast is a text) would fail
// far from here, or be acted on. A value that does not read is a clear error naming the box and
// the column; recovery (recovery/columns.ts) sets it aside in orphans/ and resets it.
import * as v from 'valibot';
import { storageError, type BoxkeepError } from '../../../shared/errors.js';
import { formatForward, forwardsProblems, MAX_FORWARDS, parseForwards } from '../../../shared/forwards.js';
import { hostnameProblem, MAX_SSH_KEYS, MAX_SSH_KEY_CHARS, sshKeyProblem, userNameProblem } from '../../../shared/cloud-init.js';
import { dailyProblem, MAX_EVERY_MINUTES, MAX_KEEP, MIN_EVERY_MINUTES } from '../../../shared/protect.js';
import type { PortForward, ProtectPolicy } from '../../../shared/types.js';

const ruled = (max: number, problem: (s: string) => string | null) =>
  v.pipe(v.string(), v.maxLength(max), v.check((s) => problem(s) === null, (i) => problem(String(i.input)) ?? 'not valid'));
const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

/** A box's cloud-init settings as kept (store.ts CloudInitRecord), also as an archive carries them. */
export const cloudInitRecordSchema = v.strictObject({
  user: ruled(256, userNameProblem),
  sshKeys: v.pipe(v.array(ruled(MAX_SSH_KEY_CHARS, sshKeyProblem)), v.maxLength(MAX_SSH_KEYS)),
  hostname: ruled(253, hostnameProblem),
  passwordHash: v.nullable(v.pipe(v.string(), v.maxLength(256), v.regex(/^\$6\$[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}$/, 'not a SHA-512 crypt hash'))),
});

/** Forwards as kept: objects, each one a spec the shared parser gives back unchanged, no host socket twice. */
const forwardsSchema = v.pipe(
  v.array(v.strictObject({ hostAddress: v.pipe(v.string(), v.maxLength(64)), hostPort: v.number(), guestPort: v.number(), protocol: v.picklist(['tcp', 'udp']) })),
  v.maxLength(MAX_FORWARDS),
  v.check((list) => forwardsProblems(list.map(formatForward)).length === 0, (i) => forwardsProblems((i.input as PortForward[]).map(formatForward))[0] ?? 'a port forward is not valid'),
);

/** A policy as kept; a key left out is off (an earlier version's row), as protect/policy-store.ts reads it. */
const policySchema = v.strictObject({
  enabled: v.optional(v.boolean()),
  everyMinutes: v.optional(v.nullable(int(MIN_EVERY_MINUTES, MAX_EVERY_MINUTES))),
  dailyAt: v.optional(v.nullable(ruled(5, dailyProblem))),
  beforeStop: v.optional(v.boolean()),
  keepLast: v.optional(int(0, MAX_KEEP)),
  keepHourly: v.optional(int(0, MAX_KEEP)),
  keepDaily: v.optional(int(0, MAX_KEEP)),
  keepWeekly: v.optional(int(0, MAX_KEEP)),
  keepMonthly: v.optional(int(0, MAX_KEEP)),
});

export const JSON_COLUMNS = {
  forwards: { table: 'boxes', label: 'port forwards', schema: forwardsSchema, reset: '[]' },
  cloud_init: { table: 'boxes', label: 'cloud-init settings', schema: cloudInitRecordSchema, reset: null },
  policy: { table: 'protect', label: 'AutoProtect policy', schema: policySchema, reset: null },
} as const;
export type JsonColumn = keyof typeof JSON_COLUMNS;

type Parsed<C extends JsonColumn> = v.InferOutput<(typeof JSON_COLUMNS)[C]['schema']>;

/** The column's value, or a sentence saying why it does not read (the first problem, with where it is). */
export function readColumn<C extends JsonColumn>(column: C, raw: string): { value: Parsed<C> } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { problem: `not JSON: ${(err as Error).message}` };
  }
  const r = v.safeParse(JSON_COLUMNS[column].schema as v.GenericSchema, json);
  if (r.success) return { value: r.output as Parsed<C> };
  const issue = r.issues[0];
  const at = v.getDotPath(issue);
  return { problem: at ? `${at}: ${issue.message}` : issue.message };
}

/** The error a value that does not read is: what, whose, why, and that nothing was changed. */
export function columnError(column: JsonColumn, boxId: string, problem: string): BoxkeepError {
  const { label } = JSON_COLUMNS[column];
  return storageError(`The ${label} the database keeps for the box ${boxId} cannot be read (${problem}). Boxkeep changed nothing; "boxkeep recover" sets the value aside in the home's orphans folder and resets the ${label}.`);
}

/** The column's value, or columnError. */
export function columnValue<C extends JsonColumn>(column: C, raw: string, boxId: string): Parsed<C> {
  const r = readColumn(column, raw);
  if ('problem' in r) throw columnError(column, boxId, r.problem);
  return r.value;
}

/** Forwards read back in the form the rest of Boxkeep makes them (parseForwards). */
export function forwardsValue(raw: string, boxId: string): PortForward[] {
  return parseForwards(columnValue('forwards', raw, boxId).map(formatForward));
}

export function policyValue(raw: string, boxId: string): Partial<ProtectPolicy> {
  return columnValue('policy', raw, boxId);
}
