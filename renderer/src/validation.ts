// Inline validation runs the contract's own schema, so a form says exactly what the main
// process would say, as the user types, and can never disagree with it.
import * as v from 'valibot';
import { channels, type Channel } from '../../shared/channels.js';
import { nameProblem } from '../../shared/names.js';
import type { Snapshot } from '../../shared/types.js';

/** First problem per top-level field, e.g. { name: 'The box name must not be empty.' }. */
export function fieldProblems(channel: Channel, input: Record<string, unknown>): Record<string, string> {
  const parsed = v.safeParse(channels[channel].input, input);
  if (parsed.success) return {};
  const out: Record<string, string> = {};
  for (const issue of parsed.issues) {
    const field = v.getDotPath(issue)?.split('.')[0] ?? '';
    if (!(field in out)) out[field] = issue.message;
  }
  return out;
}

/** The snapshot name rule plus the one the schema cannot know: names are unique in a box. */
export function snapshotNameProblem(name: string, siblings: readonly Snapshot[], exceptId?: string): string | null {
  const problem = nameProblem(name, 'snapshot name');
  if (problem) return problem;
  if (siblings.some((s) => s.name === name && s.id !== exceptId)) {
    return `This box already has a snapshot named ${JSON.stringify(name)}; pick another name.`;
  }
  return null;
}

/** `base`, or `base (2)`, `base (3)`…: the first no sibling has (two snapshots in one second). */
export function freeSnapshotName(base: string, siblings: readonly { name: string }[]): string {
  const taken = new Set(siblings.map((s) => s.name));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base} (${n})`;
  return name;
}

/** Parses a whole-number field; anything else stays text so the schema reports it plainly. */
export function numberField(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}
