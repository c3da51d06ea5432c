import * as v from 'valibot';
import { channels, FIELD_SUBJECTS, isChannel, type Channel, type ChannelInput } from './channels.js';
import { BoxkeepError } from './errors.js';
import { showText } from './names.js';

/** What a client calls a field (`--memory` in the CLI, "Memory (MiB)" in a form); undefined keeps
 *  the contract's own words. */
export type FieldLabel = (field: string) => string | undefined;

/** One broken rule: the top-level field it is about (null for the input as a whole) and a
 *  sentence a person can act on. */
export interface Problem {
  field: string | null;
  message: string;
}

export type Checked<C extends Channel> = { ok: true; value: ChannelInput<C> } | { ok: false; problems: Problem[] };

/**
 * Parses a raw payload for a channel. Every transport calls this before any service sees the
 * input; a failure is InvalidArgument naming the field and the rule it broke.
 */
export function parseInput<C extends Channel>(channel: C, raw: unknown, label?: FieldLabel): ChannelInput<C> {
  if (!isChannel(channel)) {
    throw new BoxkeepError('InvalidArgument', `Unknown channel ${JSON.stringify(String(channel)).slice(0, 80)}.`);
  }
  const checked = checkInput(channel, raw, label);
  if (checked.ok) return checked.value;
  throw new BoxkeepError('InvalidArgument', checked.problems.slice(0, 3).map((p) => p.message).join(' '));
}

/** parseInput without the throw: every problem, each with its field (for inline validation). */
export function checkInput<C extends Channel>(channel: C, raw: unknown, label?: FieldLabel): Checked<C> {
  const schema = channels[channel].input;
  const fields = ownFields(channel, raw ?? {}, schema.entries);
  if ('problem' in fields) return { ok: false, problems: [fields.problem] };
  const parsed = v.safeParse(schema, fields.value);
  if (parsed.success) return { ok: true, value: parsed.output as ChannelInput<C> };
  const problems = parsed.issues.map((issue): Problem => {
    const field = (issue.path?.[0]?.key as string | undefined) ?? null;
    // A missing field: say what its own schema says about "nothing" (e.g. "The box must be
    // given as text (its id or name).") rather than valibot's generic "Invalid key".
    const missing = issue.type === 'strict_object' && field !== null && issue.input === undefined;
    const message = missing ? (typeMessage((schema.entries as Record<string, v.GenericSchema>)[field]!) ?? issue.message) : issue.message;
    return { field, message: relabel(field, message, label) };
  });
  return { ok: false, problems };
}

const typeMessage = (schema: v.GenericSchema) => v.safeParse(schema, undefined).issues?.[0].message;

/**
 * The input's own fields, copied into an object without a prototype, or the problem with it.
 * A strict object schema asks `key in entries`, which is true for "constructor", "toString" or
 * "__proto__" (JSON.parse makes it an own key) through Object.prototype, and it takes an array
 * for an object; so the shape is settled here, by own properties only, for every channel.
 */
function ownFields(channel: Channel, raw: unknown, entries: object): { value: Record<string, unknown> } | { problem: Problem } {
  const wrong = (message: string) => ({ problem: { field: null, message } });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const kind = Array.isArray(raw) ? 'an array' : raw === null ? 'null' : `a ${typeof raw}`;
    return wrong(`The input of ${channel} must be an object of named fields, not ${kind}.`);
  }
  const proto = Object.getPrototypeOf(raw) as unknown;
  if (proto !== Object.prototype && proto !== null) return wrong(`The input of ${channel} must be a plain object of named fields.`);
  const value: Record<string, unknown> = Object.create(null);
  for (const key of Reflect.ownKeys(raw)) {
    if (typeof key !== 'string' || !Object.hasOwn(entries, key)) {
      return wrong(`Unknown field ${showText(String(key).slice(0, 60))}: it is not part of ${channel}.`);
    }
    value[key] = (raw as Record<string, unknown>)[key];
  }
  return { value };
}

/** Puts the client's name for the field into the message: in place of the contract's subject
 *  when the message starts with it ("--memory must be at least 16 MiB."), else in front. */
function relabel(field: string | null, message: string, label: FieldLabel | undefined): string {
  const name = field === null ? undefined : label?.(field);
  if (!name) return message;
  const subject = (FIELD_SUBJECTS as Record<string, string | undefined>)[field!];
  if (subject && message.startsWith(subject + ' ')) return name + message.slice(subject.length);
  return `${name}: ${message}`;
}
