// Name rules for boxes, images and snapshots. Used by the main process to reject bad input
// and by the renderer to explain the rule inline while the user types: one source of truth.

const MAX_NAME_BYTES = 255;

/** The form of every id Boxkeep gives (boxes, images, snapshots, operations): 12 lowercase hex digits. */
export const ID_PATTERN = /^[0-9a-f]{12}$/;
export const isId = (value: string) => ID_PATTERN.test(value);

/**
 * Returns null when the name is acceptable, otherwise a sentence naming the broken rule.
 * `asRead`: a name Boxkeep reads back (an archive's manifest) rather than one being given now,
 * held to every rule but the two added later (the form of an id, white space at either end), so
 * an archive made before them still imports.
 */
export function nameProblem(name: string, what = 'name', opts: { asRead?: boolean } = {}): string | null {
  const shown = showText(name);
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
  // Invisible characters make a name look like another one: U+202E shows "\u202Eexe.txt" as
  // "txt.exe", a zero-width space makes two names that print the same. A name is something
  // people read and type, so every format (Cf) and line/paragraph separator (Zl, Zp) goes.
  const hidden = name.match(INVISIBLE);
  if (hidden) return `The ${what} ${shown} ${describeInvisible(hidden[0])}; remove it.`;
  if (!opts.asRead) {
    // Every command takes an id or a name: a name of an id's form could be another's id.
    if (isId(name)) return `The ${what} ${shown} has the form of an id (12 hex digits), and every command takes an id or a name, so the two could be confused; add a letter or a dash.`;
    if (name.trim() !== name) return `The ${what} ${shown} starts or ends with white space, which would have to be typed too; remove it.`;
  }
  return null;
}

/** A snapshot's name: a name, and not "Now" in any case, which is what Boxkeep calls the live disk. */
export function snapshotNameRule(name: string): string | null {
  const problem = nameProblem(name, 'snapshot name');
  if (problem) return problem;
  if (name.toLowerCase() === 'now') return `The snapshot name ${showText(name)} is what Boxkeep calls the live disk ("Now", and "now" in snapshot diff); pick another name.`;
  return null;
}

const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}]/u;
/** Bidi embeddings, overrides and isolates: they reorder the text that follows them, even past
 *  the end of the string they came in (CVE-2021-42574, "Trojan Source"). */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u;
const SEPARATOR = /[\p{Zl}\p{Zp}]/u;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/**
 * A description is prose over several lines, so it keeps what prose needs: newlines, tabs,
 * zero-width joiners (Persian, Indic scripts, emoji sequences need them) and the non-spilling
 * direction marks (U+200E, U+200F). It refuses what changes how other text shows: other control
 * characters (a carriage return or escape overwrites the terminal line it is printed on), bidi
 * embeddings, overrides and isolates (they reorder what follows them, in the UI and in a
 * terminal), and U+2028/U+2029, line breaks that some viewers honour and others drop, so the
 * description would read differently in the CLI and the UI: a newline says the same thing.
 */
export function descriptionProblem(text: string): string | null {
  const control = text.match(CONTROL_BUT_NEWLINE_TAB);
  if (control) return `The description ${describeInvisible(control[0], 'a control character')}; only newlines and tabs are allowed.`;
  const bidi = text.match(BIDI_CONTROL);
  if (bidi) return `The description ${describeInvisible(bidi[0])}; it would reorder the text around it. Remove it.`;
  const separator = text.match(SEPARATOR);
  if (separator) return `The description ${describeInvisible(separator[0])}; use a newline instead.`;
  return null;
}

/** JSON-quoted for a message, with invisible characters written as \u escapes so the message
 *  itself cannot be reordered or hide what it is about. */
export function showText(text: string): string {
  const short = text.length > 80 ? text.slice(0, 80) + '…' : text;
  return JSON.stringify(short).replace(/[\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => {
    const hex = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return hex.length > 4 ? `\\u{${hex}}` : `\\u${hex}`;
  });
}

/** The names people search for; any other format character is named by code point only. */
const CHARACTER_NAMES: Record<number, string> = {
  0x00ad: 'SOFT HYPHEN',
  0x061c: 'ARABIC LETTER MARK',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x2028: 'LINE SEPARATOR',
  0x2029: 'PARAGRAPH SEPARATOR',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2060: 'WORD JOINER',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE (BYTE ORDER MARK)',
  0x0009: 'CHARACTER TABULATION',
  0x000a: 'LINE FEED',
  0x000d: 'CARRIAGE RETURN',
  0x001b: 'ESCAPE',
};

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** "contains U+202E RIGHT-TO-LEFT OVERRIDE, an invisible formatting character". */
function describeInvisible(c: string, kind?: string): string {
  const cp = c.codePointAt(0)!;
  const name = CHARACTER_NAMES[cp];
  const what = kind ?? (SEPARATOR.test(c) ? 'an invisible line or paragraph separator' : 'an invisible formatting character');
  return `contains ${codePoint(c)}${name ? ' ' + name : ''}, ${what}`;
}

export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** `base`, or `base (2)`, `base (3)`…: the first name not taken (two snapshots in one second). */
export function freeSnapshotName(base: string, taken: (name: string) => boolean): string {
  let name = base;
  for (let n = 2; taken(name); n++) name = `${base} (${n})`;
  return name;
}

/** A readable default name for a snapshot taken at `at`: "2026-11-30 18:22:05". */
export function timestampName(at: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())} ${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}`;
}

/** The name, or the first of "name (2)", "name (3)"… that `taken` does not hold (an import, a clone). */
export function freeName(name: string, taken: (n: string) => boolean): string {
  if (!taken(name)) return name;
  for (let i = 2; ; i++) {
    const candidate = `${name.slice(0, 240)} (${i})`;
    if (!taken(candidate)) return candidate;
  }
}

/** The first `max` of a list for a message, and how many more there are: "a, b, c, and 12 more". */
export function someOf(items: readonly string[], max = 5): string {
  return items.slice(0, max).join(', ') + (items.length > max ? `, and ${items.length - max} more` : '');
}

/** A name as one shell word, for a command a message suggests: as it is when plain, else in single quotes. */
export function shellWord(text: string): string {
  return /^[\w.@%+=:,][\w.@%+=:,-]*$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
