// What a mounted guest filesystem holds, read through the appliance: names from find0/ls0
// (NUL-separated, so any byte a name holds arrives intact; see guest-names.ts), facts from lstatns (never follows a
// link), link targets from readlink. Paths here are the guest's, relative to the filesystem's
// root, with a leading "/"; they are untrusted text and only become host paths through
// host-path.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { GuestEntry } from '../../../shared/types.js';
import { quote, type Appliance } from './appliance.js';
import { decodeGuestName } from './guest-names.js';

/** Commands written to guestfish at once: small enough for its pipe, large enough to amortise. */
const CHUNK = 1000;

const S_IFMT = 0o170000;
const KINDS: Record<number, GuestEntry['kind']> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'link' };

/** Every entry below a mounted filesystem's root (not the root itself), sorted by path. */
export async function listTree(app: Appliance, mountpoint: string, under = '/'): Promise<GuestEntry[]> {
  const list = path.join(app.scratch, `find-${Math.random().toString(36).slice(2)}`);
  await app.must(`find0 ${quote(join(mountpoint, under))} ${quote(list)}`);
  // find0 names are relative to the folder, but keep a leading "/" when it is not the root.
  const names = readNames(list).map((n) => n.replace(/^\/+/, ''));
  const prefix = under === '/' ? '' : under;
  return statAll(app, mountpoint, names.map((n) => `${prefix}/${n}`));
}

/** The entries directly in one folder of a mounted filesystem, sorted by name. */
export async function listFolder(app: Appliance, mountpoint: string, folder: string): Promise<GuestEntry[]> {
  const list = path.join(app.scratch, `ls-${Math.random().toString(36).slice(2)}`);
  await app.must(`ls0 ${quote(join(mountpoint, folder))} ${quote(list)}`);
  const prefix = folder === '/' ? '' : folder;
  return statAll(app, mountpoint, readNames(list).map((n) => `${prefix}/${n}`));
}

/** One entry's facts; null when the path does not exist. */
export async function statOne(app: Appliance, mountpoint: string, guestPath: string): Promise<GuestEntry | null> {
  if (guestPath === '/') return { ...(await statAll(app, mountpoint, ['/'], true))[0]!, path: '/' };
  const [entry] = await statAll(app, mountpoint, [guestPath], true);
  return entry ?? null;
}

function readNames(file: string): string[] {
  const raw = fs.readFileSync(file);
  fs.rmSync(file, { force: true });
  const names: string[] = [];
  for (let start = 0; start < raw.length; ) {
    let end = raw.indexOf(0, start);
    if (end < 0) end = raw.length;
    if (end > start) names.push(decodeGuestName(raw.subarray(start, end)));
    start = end + 1;
  }
  return names;
}

/** Guest paths inside a mountpoint: joined as text, never resolved on the host. */
export function join(mountpoint: string, guestPath: string): string {
  const rest = guestPath.replace(/^\/+/, '');
  return rest ? `${mountpoint}/${rest}` : mountpoint;
}

async function statAll(app: Appliance, mountpoint: string, paths: string[], missingOk = false): Promise<GuestEntry[]> {
  const out: GuestEntry[] = [];
  for (let i = 0; i < paths.length; i += CHUNK) {
    const chunk = paths.slice(i, i + CHUNK);
    const answers = await app.batch(chunk.map((p) => `lstatns ${quote(join(mountpoint, p))}`));
    const links: GuestEntry[] = [];
    answers.forEach((a, j) => {
      if (!a.ok) {
        if (missingOk) return;
        throw new Error(`lstat of ${chunk[j]} failed: ${a.error}`);
      }
      const entry = parseStat(chunk[j]!, a.out);
      out.push(entry);
      if (entry.kind === 'link') links.push(entry);
    });
    const targets = await app.batch(links.map((l) => `readlink ${quote(join(mountpoint, l.path))}`));
    targets.forEach((t, j) => {
      links[j]!.target = t.ok ? t.out.replace(/\n$/, '') : '';
    });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function parseStat(guestPath: string, text: string): GuestEntry {
  const f: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(st_\w+): (-?\d+)$/.exec(line);
    if (m) f[m[1]!] = Number(m[2]);
  }
  const mode = f.st_mode ?? 0;
  return {
    path: guestPath,
    kind: KINDS[mode & S_IFMT] ?? 'other',
    mode: mode & 0o7777,
    size: f.st_size ?? 0,
    mtimeMs: (f.st_mtime_sec ?? 0) * 1000 + Math.floor((f.st_mtime_nsec ?? 0) / 1e6),
    ctimeNs: `${f.st_ctime_sec ?? 0}.${String(f.st_ctime_nsec ?? 0).padStart(9, '0')}`,
    mtimeNs: `${f.st_mtime_sec ?? 0}.${String(f.st_mtime_nsec ?? 0).padStart(9, '0')}`,
    ino: f.st_ino ?? 0,
    uid: f.st_uid ?? 0,
    gid: f.st_gid ?? 0,
  };
}
