// Name rules for boxes, images and snapshots. Used by the main process to reject bad input
// and by the renderer to explain the rule inline while the user types: one source of truth.

const MAX_NAME_BYTES = 255;

/** Returns null when the name is acceptable, otherwise a sentence naming the broken rule. */
export function nameProblem(name: string, what = 'name'): string | null {
  const shown = JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name);
  if (name.length === 0) return `The ${what} must not be empty.`;
  if (name.trim().length === 0) return `The ${what} ${shown} is only white space; use some letters or digits.`;
  if (utf8Length(name) > MAX_NAME_BYTES) {
    return `The ${what} ${shown} is ${utf8Length(name)} bytes long; at most ${MAX_NAME_BYTES} bytes are allowed.`;
  }
  if (name === '.' || name === '..') return `The ${what} ${shown} is reserved; pick another ${what}.`;
  if (name.startsWith('.')) return `The ${what} ${shown} starts with "."; ${what}s may not start with a dot.`;
  if (name.includes('/')) return `The ${what} ${shown} contains "/"; slashes are not allowed.`;
  if (name.includes('\\')) return `The ${what} ${shown} contains "\\"; backslashes are not allowed.`;
  if (name.includes('\0')) return `The ${what} ${shown} contains a NUL character, which is not allowed.`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    return `The ${what} ${shown} contains a control character (such as a tab or newline), which is not allowed.`;
  }
  return null;
}

export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** A readable default name for a snapshot taken at `at`: "2026-11-30 18:22:05". */
export function timestampName(at: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())} ${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}`;
}
