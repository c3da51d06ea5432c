// Output for people: sizes, times, tables, key/value blocks and the snapshot tree. Pure
// functions of their arguments (the clock is passed in) so every shape is unit-tested.
import type { Snapshot, SnapshotTree } from '../../shared/types.js';

// Sizes are formatted in shared/ so core errors and the CLI say them the same way.
import { humanBytes } from '../../shared/bytes.js';

export { humanBytes };

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 minutes ago", "yesterday", "3 days ago"; past a month, the date itself. */
export function relativeTime(at: number, now: number): string {
  const delta = now - at;
  if (delta < 0) {
    // Another machine's clock (or a clock change) can put a time slightly ahead of ours.
    return -delta < MINUTE ? 'just now' : `in the future (${localTime(at)})`;
  }
  if (delta < 10 * SECOND) return 'just now';
  if (delta < MINUTE) return `${Math.floor(delta / SECOND)} seconds ago`;
  if (delta < HOUR) return plural(Math.floor(delta / MINUTE), 'minute') + ' ago';
  if (delta < DAY) return plural(Math.floor(delta / HOUR), 'hour') + ' ago';
  if (delta < 2 * DAY) return 'yesterday';
  if (delta < 30 * DAY) return `${Math.floor(delta / DAY)} days ago`;
  return localTime(at).slice(0, 10);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** 2026-11-30 18:22:05 in the local time zone. */
export function localTime(at: number): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Text that came from a user or a disk is shown on a terminal: control characters (escape
 * sequences, newlines, tabs) would let it move the cursor or forge lines, so they become "?"
 * or a space.
 */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\t\n\r]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Columns a string takes on a terminal: wide East Asian characters and emoji count two. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    // Neither marks nor wide: Latin text, and the arrows, box drawing and shapes of the tree
    // (U+2100–U+2CEE). Most lines never build the Unicode classes below.
    if (cp < 0x300 || (cp >= 0x2100 && cp < 0x2cef)) {
      width += 1;
      continue;
    }
    if (/\p{Mn}|\p{Me}|\u200d|[\ufe00-\ufe0f]/u.test(ch)) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Cuts text to at most `width` columns, marking the cut with "…". */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = displayWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return out + '…';
}

const pad = (text: string, width: number, align: 'left' | 'right') => {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
};

export interface TableOptions {
  /** Per column; left unless given. */
  align?: ('left' | 'right')[];
  /** Terminal width: the `flex` column is cut with "…" so lines fit. */
  maxWidth?: number;
  /** Index of the column that gives up room when the table is too wide (default: the last). */
  flex?: number;
}

const GAP = '  ';

/** Aligned columns under upper-case headers, two spaces apart, no trailing spaces. */
export function table(headers: string[], rows: string[][], opts: TableOptions = {}): string {
  const cells = [headers, ...rows].map((row) => headers.map((_, i) => clean(row[i] ?? '')));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => displayWidth(row[i]))));
  const flex = opts.flex ?? headers.length - 1;
  if (opts.maxWidth) {
    const total = widths.reduce((a, b) => a + b, 0) + GAP.length * (headers.length - 1);
    const over = total - opts.maxWidth;
    if (over > 0) {
      widths[flex] = Math.max(Math.min(widths[flex], 10), widths[flex] - over);
      for (const row of cells) row[flex] = truncate(row[flex], widths[flex]);
    }
  }
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 && (opts.align?.[i] ?? 'left') === 'left' ? cell : pad(cell, widths[i], opts.align?.[i] ?? 'left')))
        .join(GAP)
        .trimEnd(),
    )
    .join('\n');
}

/** "Label:  value" lines with the values aligned; empty values are left out. */
export function keyValues(pairs: [string, string | null | undefined][]): string {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== null && p[1] !== undefined && p[1] !== '');
  const width = Math.max(0, ...shown.map(([k]) => displayWidth(k) + 1));
  return shown.map(([k, v]) => `${pad(k + ':', width, 'left')}  ${clean(v)}`).join('\n');
}

export interface TreeOptions {
  now: number;
  /** What the root snapshots hang from, e.g. `seed (image)`. */
  base?: string;
  maxWidth?: number;
}

export const GLYPH = { base: '◇', snapshot: '●', now: '○' } as const;

interface Node {
  snapshot: Snapshot | null;
  label: string;
  children: Node[];
}

/**
 * The snapshot tree like `git log --graph`, oldest at the top. A node's newest child stays in
 * the node's column, so a straight history stays one narrow column however deep it is; older
 * children branch off to the right with ├─ and their subtrees hang under a │ rail. "Now" (the
 * live disk) is the newest child of the current snapshot, so it sits in that snapshot's
 * column and a snapshot taken after a restore visibly starts a branch.
 */
export function snapshotTree(tree: SnapshotTree, opts: TreeOptions): string {
  const root = buildNodes(tree, opts.base ?? 'image');
  const rows: string[][] = [];
  const walk = (node: Node, first: string, rest: string) => {
    rows.push(rowFor(node, first, opts.now));
    node.children.forEach((child, i) => {
      const isMainLine = i === node.children.length - 1;
      if (isMainLine) walk(child, rest, rest);
      else walk(child, rest + '├─', rest + '│ ');
    });
  };
  walk(root, '', '');
  return table(['SNAPSHOT', 'ID', 'SIZE', 'TAKEN', 'DESCRIPTION'], rows, {
    align: ['left', 'left', 'right', 'left', 'left'],
    maxWidth: opts.maxWidth,
  });
}

function rowFor(node: Node, prefix: string, now: number): string[] {
  const s = node.snapshot;
  if (!s) return [prefix + node.label, '', '', '', node.label.endsWith('Now') ? 'the live disk' : ''];
  const marks = `${s.auto ? ' (auto)' : ''}${s.pinned ? ' (pinned)' : ''}`;
  return [prefix + `${GLYPH.snapshot} ${clean(s.name)}${marks}`, s.id, humanBytes(s.sizeOnDisk), relativeTime(s.createdAt, now), s.description];
}

function buildNodes(tree: SnapshotTree, base: string): Node {
  const root: Node = { snapshot: null, label: `${GLYPH.base} ${clean(base)}`, children: [] };
  const nodes = new Map<string, Node>();
  for (const s of tree.snapshots) nodes.set(s.id, { snapshot: s, label: s.name, children: [] });
  // The engine sends parents before children, siblings oldest first; keep that order and
  // hang anything whose parent is unknown (or that would form a cycle) from the base.
  for (const s of tree.snapshots) {
    const node = nodes.get(s.id)!;
    const parent = s.parentId && s.parentId !== s.id ? nodes.get(s.parentId) : undefined;
    (parent && !isAncestor(node, parent) ? parent : root).children.push(node);
  }
  const now: Node = { snapshot: null, label: `${GLYPH.now} Now`, children: [] };
  const current = tree.currentId ? nodes.get(tree.currentId) : undefined;
  (current ?? root).children.push(now);
  return root;
}

function isAncestor(node: Node, of: Node): boolean {
  const stack = [...node.children];
  while (stack.length) {
    const n = stack.pop()!;
    if (n === of) return true;
    stack.push(...n.children);
  }
  return node === of;
}
