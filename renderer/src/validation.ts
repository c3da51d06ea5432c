// Inline validation runs the contract's own schema, so a form says exactly what the main
// process would say, as the user types, and can never disagree with it.
import type { Channel } from '../../shared/channels.js';
import { snapshotNameRule } from '../../shared/names.js';
import type { Snapshot } from '../../shared/types.js';
import { checkInput } from '../../shared/validate.js';

/**
 * First problem per top-level field, e.g. { name: 'The box name must not be empty.' }. `labels`
 * are the form's own labels for its fields, so a message says "Memory (MiB) must be at least
 * 16 MiB." under the field the user sees, never the contract's key (memoryMib).
 */
export function fieldProblems(channel: Channel, input: Record<string, unknown>, labels: Record<string, string> = {}): Record<string, string> {
  const checked = checkInput(channel, input, (field) => labels[field]);
  if (checked.ok) return {};
  const out: Record<string, string> = {};
  for (const { field, message } of checked.problems) {
    const key = field ?? '';
    if (!(key in out)) out[key] = message;
  }
  return out;
}

/** The snapshot name rule plus the one the schema cannot know: names are unique in a box. */
export function snapshotNameProblem(name: string, siblings: readonly Snapshot[], exceptId?: string): string | null {
  const problem = snapshotNameRule(name);
  if (problem) return problem;
  if (siblings.some((s) => s.name === name && s.id !== exceptId)) {
    return `This box already has a snapshot named ${JSON.stringify(name)}; pick another name.`;
  }
  return null;
}

/** Parses a whole-number field; anything else stays text so the schema reports it plainly. */
export function numberField(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}
