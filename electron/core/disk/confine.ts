// The confinement check: every layer of a chain is exactly the file Boxkeep made, where
// Boxkeep put it, and names exactly the layer Boxkeep put under it. A home is edited by hand
// sometimes (docs/ARCHITECTURE.md, "Snapshots are a tree"): a snapshot swapped for a symlink to a host file,
// or for a qcow2 backing onto /etc/shadow, must never reach QEMU or a merge. One verifier for
// every caller (snapshot engine, VM start, recovery, `boxkeep check`, later archive import):
// the caller says what it expects, this file says whether the disk agrees.
//
// Unlike walkChain (chain.ts), which follows what the headers say, this follows what Boxkeep
// expects and compares: nothing named by a header is ever opened.
import fs, { type Stats } from 'node:fs';
import path from 'node:path';
import { BoxkeepError, storageError } from '../../../shared/errors.js';
import type { ChainLayer } from './chain.js';
import { readQcow2LayerSync } from './qcow2.js';

/**
 * What is cheap to record when a layer is frozen and still catches truncation or replacement:
 * the apparent size (a truncated file shrinks), the header's virtual size, and a sha256 of the
 * first 4 KiB of the header (backing name and format, L1 and refcount table offsets: another image, or
 * a rewritten header, differs). Not mtime: backup tools and `touch` change it harmlessly, and
 * a false alarm here would lock the user out of their own snapshots. Not a content hash: a
 * full read of a big disk at every restore and start is not cheap. `boxkeep check` adds
 * `qemu-img check` for the metadata in between.
 */
export interface LayerFacts {
  fileSize: number;
  virtualSize: number;
  headerDigest: string;
}

/** The facts as a layer is frozen or rewritten, and the blocks it takes then (what the snapshot list shows). */
export interface FrozenLayer extends LayerFacts {
  sizeOnDisk: number;
}

export interface ExpectedLayer {
  /** Where Boxkeep keeps this layer (paths.ts), absolute and inside `root`. */
  path: string;
  /** For messages: `snapshot "s1" of the box "web"`, `the live disk of …`, `the image "seed"`. */
  what: string;
  /** The path the record names, when it names one; must equal `path`. */
  recordedPath?: string;
  /** Recorded when the layer was frozen; null for the live disk and for layers frozen before facts were kept. */
  facts: LayerFacts | null;
}

/** A layer as it was found; shaped like walkChain's layers so chainBlockdevs takes either. */
export interface VerifiedLayer extends ChainLayer {
  dev: number;
  ino: number;
}

export interface LayerProblem {
  index: number;
  layer: ExpectedLayer;
  problem: string;
  /** The file is simply not there (recovery reports that case in its own words). */
  missing: boolean;
}

export interface InspectOptions {
  /** Compare the header digest too (~0.1 ms a layer for the sha256); recovery, which runs at
   *  every start, leaves it to the operations and to `boxkeep check`. Default true. */
  digest?: boolean;
}

const MISSING = 'the file is missing';

/** What a layer must back onto: one path, nothing (null), or any of a list (null in it: or nothing). */
export type Backing = string | null | readonly (string | null)[];

/**
 * Checks `layers` (top first; each backs onto the next, the last onto nothing) and returns
 * every problem found, one per layer at most: `boxkeep check` and recovery report them all.
 */
export function inspectChain(root: string, layers: ExpectedLayer[], opts: InspectOptions = {}): { verified: (VerifiedLayer | null)[]; problems: LayerProblem[] } {
  return inspectLayers(root, layers.map((layer, i) => ({ layer, backing: layers[i + 1]?.path ?? null })), opts);
}

/**
 * Layers each with the path it must back onto (null: none; a list: any one of them, for a
 * layer a merge was interrupted on), in any order: a whole tree at once.
 */
export function inspectLayers(root: string, entries: { layer: ExpectedLayer; backing: Backing }[], opts: InspectOptions = {}): { verified: (VerifiedLayer | null)[]; problems: LayerProblem[] } {
  const verified: (VerifiedLayer | null)[] = [];
  const problems: LayerProblem[] = [];
  const inodes = new Map<string, number>();
  // Layers share their folders (boxes/<id>/snapshots/…): each folder is lstat()ed once per call.
  // A folder swapped for a symlink after that look is still caught at each layer: the path the
  // opened file really has must be the expected one (inspectLayer).
  const place: Place = { root, realRoot: realRoot(root), folders: new Set() };
  entries.forEach(({ layer, backing }, index) => {
    const result = inspectLayer(place, layer, backing, opts);
    if (typeof result === 'string') {
      verified.push(null);
      problems.push({ index, layer, problem: result, missing: result === MISSING });
      return;
    }
    const inode = `${result.dev}:${result.ino}`;
    const twin = inodes.get(inode);
    if (twin !== undefined) {
      verified.push(null);
      problems.push({ index, layer, problem: `it is the same file as ${entries[twin]!.layer.what}`, missing: false });
      return;
    }
    inodes.set(inode, index);
    verified.push(result);
  });
  return { verified, problems };
}

/** The same check for callers about to use the chain: the first problem stops them. */
export function verifyChain(root: string, layers: ExpectedLayer[]): VerifiedLayer[] {
  const { verified, problems } = inspectChain(root, layers);
  const first = problems[0];
  if (first) throw chainError(first);
  return verified as VerifiedLayer[];
}

export function chainError({ layer, problem }: LayerProblem): BoxkeepError {
  return storageError(
    `${capitalise(layer.what)} is not the disk Boxkeep made (${layer.path}): ${problem}. ` +
      'Boxkeep stopped before using it, and will not start, restore or merge through it. ' +
      'Put back the file Boxkeep made (from a backup), then run "boxkeep check" to confirm; "boxkeep check" lists every damaged snapshot.',
  );
}

/** The facts of a file Boxkeep just froze or rewrote, read the same no-follow way the check reads them. */
export function readLayerFacts(file: string): FrozenLayer {
  const { header, stat, prefixDigest } = readQcow2LayerSync(file);
  return { fileSize: stat.size, virtualSize: header.virtualSize, headerDigest: prefixDigest!, sizeOnDisk: stat.blocks * 512 };
}

/** The layer as found, or what is wrong with it. */
function inspectLayer(place: Place, layer: ExpectedLayer, backing: Backing, opts: InspectOptions): VerifiedLayer | string {
  if (layer.recordedPath !== undefined && layer.recordedPath !== layer.path) {
    return `its record names ${layer.recordedPath} instead`;
  }
  const placed = confinedFile(place.root, layer.path, place.folders);
  if (typeof placed === 'string') return placed;

  let read: ReturnType<typeof readQcow2LayerSync>;
  try {
    read = readQcow2LayerSync(layer.path, { digest: opts.digest ?? true });
  } catch (err) {
    // A truncated layer also fails the header's table checks; its recorded size says it plainer.
    if (layer.facts && placed.size !== layer.facts.fileSize) return factsProblem(layer.facts, { fileSize: placed.size, virtualSize: layer.facts.virtualSize, headerDigest: null })!;
    return err instanceof BoxkeepError ? stripPath(err.message, layer.path) : String(err);
  }
  const { header, stat, prefixDigest, openedPath } = read;
  // The file opened is the one lstat saw: a swap between the two is caught here.
  if (stat.dev !== placed.dev || stat.ino !== placed.ino) return 'it was replaced while being checked';
  // And it lies where it should, reached through no symlink: a folder above it swapped since it
  // was looked at (for this layer or an earlier one) is caught here.
  const expected = path.join(place.realRoot, path.relative(place.root, layer.path));
  if (openedPath !== expected) return `it was replaced while being checked (the file opened lies at ${openedPath})`;
  if (header.hasExternalDataFile) return 'it keeps its data in an external data file, which could be any file on this computer';

  // A list may hold null: standing alone is one of the allowed outcomes (a blank root merged away).
  const allowed = backing === null || typeof backing === 'string' ? [backing] : backing;
  const strings = allowed.filter((b): b is string => b !== null);
  if (header.backingFile === null) {
    if (!allowed.includes(null)) return `it backs onto "(nothing)" instead of ${strings.join(' or ')}`;
  } else if (strings.length === 0) {
    return `it names the backing file "${header.backingFile}" but should stand alone`;
  } else {
    if (!strings.includes(header.backingFile)) return `it backs onto "${header.backingFile}" instead of ${strings.join(' or ')}${allowed.includes(null) ? ' or nothing' : ''}`;
    if (header.backingFormat !== 'qcow2') {
      return `its backing file is declared as format "${header.backingFormat ?? '(none: QEMU would guess)'}" instead of qcow2`;
    }
  }

  const facts = { fileSize: stat.size, virtualSize: header.virtualSize, headerDigest: prefixDigest };
  const changed = factsProblem(layer.facts, facts);
  if (changed) return changed;
  return { path: layer.path, header, sizeOnDisk: stat.blocks * 512, format: 'qcow2', dev: stat.dev, ino: stat.ino };
}

function factsProblem(recorded: LayerFacts | null, now: Omit<LayerFacts, 'headerDigest'> & { headerDigest: string | null }): string | null {
  if (!recorded) return null;
  if (now.fileSize !== recorded.fileSize) {
    return `it is ${now.fileSize} bytes long but was ${recorded.fileSize} bytes when it was frozen (${now.fileSize < recorded.fileSize ? 'truncated' : 'changed'})`;
  }
  if (now.virtualSize !== recorded.virtualSize) return `its disk size is ${now.virtualSize} bytes but was ${recorded.virtualSize} when it was frozen`;
  if (now.headerDigest !== null && now.headerDigest !== recorded.headerDigest) return 'its qcow2 header changed since it was frozen (the file was rewritten or replaced)';
  return null;
}

interface Place {
  root: string;
  /** The root with its own symlinks resolved (the home may be reached through one), as the kernel names opened files. */
  realRoot: string;
  /** Folders this check already found to be real folders. */
  folders: Set<string>;
}

function realRoot(root: string): string {
  try {
    return fs.realpathSync.native(root);
  } catch {
    return root; // no home: every layer is reported missing anyway
  }
}

/** The same placement rule for a file that is not a chain layer (installer media): its inode, or what is wrong. */
export function placedFile(root: string, file: string): { dev: number; ino: number; size: number } | string {
  const placed = confinedFile(root, file, new Set());
  return typeof placed === 'string' ? placed : { dev: placed.dev, ino: placed.ino, size: placed.size };
}

/**
 * The same rule for a file about to be made (a new snapshot's folder and disk), before anything
 * is: each component below the home that is there already is a real folder, and the file is not
 * there yet, so a mkdir or a rename by that path cannot land outside the home through a link.
 * null when so, else what is wrong.
 */
export function newFileProblem(root: string, file: string): string | null {
  const placed = confinedFile(root, file, new Set(), { absentOk: true });
  if (placed === null || typeof placed === 'string') return placed;
  return 'a file is there already';
}

/**
 * lstat of every component below the home root: each folder a real folder, the file a real
 * file with one link. The root itself is where the user put their home and may be reached
 * through a symlink; nothing below it may be. `folders` holds the folders this check already
 * found to be real folders (one check of many layers): those are not looked at again, every
 * other component is, and the file itself always is.
 */
function confinedFile(root: string, file: string, folders: Set<string>): Stats | string;
/** `absentOk`: a component not there (nor, then, anything below it) is fine: null. */
function confinedFile(root: string, file: string, folders: Set<string>, opts: { absentOk: true }): Stats | string | null;
function confinedFile(root: string, file: string, folders: Set<string>, opts?: { absentOk: true }): Stats | string | null {
  const rel = path.relative(root, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return `it lies outside the home ${root}`;
  const parts = rel.split(path.sep);
  let at = root;
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    const last = i === parts.length - 1;
    if (!last && folders.has(at)) continue;
    let st: Stats;
    try {
      st = fs.lstatSync(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && opts?.absentOk) return null;
      return code === 'ENOENT' ? (i === parts.length - 1 ? MISSING : `the folder ${at} is missing`) : `${at} cannot be read (${code})`;
    }
    if (st.isSymbolicLink()) return `${last ? 'the file' : `the folder ${at}`} is a symbolic link (to ${readLink(at)}), which Boxkeep never follows`;
    if (!last && !st.isDirectory()) return `${at} is not a folder`;
    if (!last) folders.add(at);
    if (last && !st.isFile()) return 'it is not a regular file';
    if (last && st.nlink !== 1) return `it has ${st.nlink} hard links; a disk Boxkeep made has exactly one`;
    if (last) return st;
  }
  return 'it is not a file';
}

function readLink(at: string): string {
  try {
    return fs.readlinkSync(at);
  } catch {
    return '?';
  }
}

/** The reader's messages start with the path; ours already name it. */
function stripPath(message: string, file: string): string {
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2).replace(/\.$/, '') : message.replace(/\.$/, '');
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
