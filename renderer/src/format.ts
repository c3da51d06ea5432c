// How sizes and times read on screen. Pure functions (no DOM) so they are unit-tested in Node
// and give the same text everywhere: sidebar, tree rows, dialogs, toasts.
import type { BoxDetail, BoxStatus } from '../../shared/types.js';
import { utf8Length } from '../../shared/names.js';

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "0 bytes", "512 bytes", "1.5 MiB", "20 GiB": IEC units, because disk tools speak them. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return 'unknown size';
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${Math.round(bytes)} bytes`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // Three significant figures at most: "1.46 GiB", "14.6 GiB", "146 GiB".
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  let text = value.toFixed(digits);
  // 1023.7 KiB rounds to "1024": carry it into the next unit instead.
  if (Number(text) >= 1024 && unit < UNITS.length - 1) {
    unit++;
    text = (Number(text) / 1024).toFixed(2);
  }
  // Only zeros after a decimal point go ("1.50" -> "1.5", "2.00" -> "2"); "580" keeps its zero.
  if (text.includes('.')) text = text.replace(/\.?0+$/, '');
  return `${text} ${UNITS[unit]}`;
}

/** Memory is configured in MiB; show whole GiB when it is a whole number of them. */
export function formatMemory(mib: number): string {
  if (mib >= 1024 && mib % 1024 === 0) return `${mib / 1024} GiB`;
  return `${mib} MiB`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 minutes ago", "yesterday", "3 days ago", then the date itself. */
export function relativeTime(at: number, now: number): string {
  const diff = now - at;
  if (diff < -MINUTE) return `on ${shortDate(at, now)}`; // a clock moved backwards: say the date, not "in 5 minutes"
  if (diff < 45_000) return 'just now';
  if (diff < HOUR) {
    const m = Math.max(1, Math.round(diff / MINUTE));
    return m === 1 ? '1 minute ago' : `${m} minutes ago`;
  }
  if (diff < DAY) {
    const h = Math.round(diff / HOUR);
    return h === 1 ? '1 hour ago' : `${h} hours ago`;
  }
  const days = calendarDaysBetween(at, now);
  if (days <= 1) return 'yesterday';
  if (days < 7) return `${days} days ago`;
  return `on ${shortDate(at, now)}`;
}

/** The exact time for hover text and details: "2026-11-30 18:22:05". */
export function exactTime(at: number): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A machine-readable timestamp for <time dateTime>. */
export function isoTime(at: number): string {
  return new Date(at).toISOString();
}

function calendarDaysBetween(a: number, b: number): number {
  const da = new Date(a);
  const db = new Date(b);
  const startA = new Date(da.getFullYear(), da.getMonth(), da.getDate()).getTime();
  const startB = new Date(db.getFullYear(), db.getMonth(), db.getDate()).getTime();
  return Math.round((startB - startA) / DAY);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function shortDate(at: number, now: number): string {
  const d = new Date(at);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return `${MONTHS[d.getMonth()]} ${d.getDate()}${sameYear ? '' : `, ${d.getFullYear()}`}`;
}

/** The word a person reads next to the status colour. */
export function statusLabel(status: BoxStatus): string {
  switch (status) {
    case 'configured':
      return 'Never started';
    case 'running':
      return 'Running';
    case 'paused':
      return 'Paused';
    case 'stopping':
      return 'Stopping…';
    case 'stopped':
      return 'Stopped';
    case 'failed':
      return 'Failed';
  }
}

/** "a", "a and b", "a, b and c", "a, b, c and 2 more". */
export function joinWords(items: string[]): string {
  if (items.length <= 1) return items.join('');
  if (items.length > 4) return `${items.slice(0, 3).join(', ')} and ${items.length - 3} more`;
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** "1 snapshot", "3 snapshots". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}

/**
 * What a box's snapshot tree stands on, in words: its base image, or, for a box made from
 * installer media, the blank disk it started as (the ISO is no part of its disk). The detail
 * may still be loading: the base image's words then.
 */
export function treeBase(detail: BoxDetail | null): { title: string; the: string; sub: string } {
  const linked = linkedSource(detail);
  if (linked) return { title: 'Linked clone', the: linked, sub: `of ${linked}` };
  if (detail && !detail.image) return { title: 'Blank disk', the: 'the blank disk', sub: detail.installedFrom ? `installed from ${detail.installedFrom}` : '' };
  return { title: 'Base image', the: 'the base image', sub: detail?.image?.name ?? '' };
}

/**
 * For a linked clone, the snapshot its disk reads through, in words: "work’s snapshot “s1”",
 * found in the clone's own chain (the layer names the box it belongs to); "a snapshot of
 * another box" when the chain does not name it. Null for any other box.
 */
export function linkedSource(detail: BoxDetail | null): string | null {
  if (!detail?.linkedSnapshotId) return null;
  const layer = detail.chain.find((l) => l.snapshotId === detail.linkedSnapshotId);
  if (!layer?.ofBox || layer.snapshotName === null) return 'a snapshot of another box';
  return `${layer.ofBox.name}’s snapshot “${layer.snapshotName}”`;
}

/** Characters a file name may not hold on Windows or macOS (a box name may hold any of them). */
const NOT_IN_FILE_NAMES = /[<>:"/\\|?*\u0000-\u001f\u007f]/g;
const MAX_FILE_NAME_BYTES = 255;

/**
 * A file name for something saved from a box ("web-screen.png"): the box's name with what no
 * file system takes turned into "_", shortened (whole characters) so that with its suffix it
 * fits the 255 bytes a file name may have; a box name alone may already be 255 bytes long.
 */
export function boxFileName(boxName: string, suffix: string): string {
  const room = MAX_FILE_NAME_BYTES - utf8Length(suffix);
  let base = '';
  for (const ch of boxName.replace(NOT_IN_FILE_NAMES, '_')) {
    if (utf8Length(base + ch) > room) break;
    base += ch;
  }
  return `${base}${suffix}`;
}
