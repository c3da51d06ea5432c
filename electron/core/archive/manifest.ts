// The manifest of a .boxkeep archive: the first member, manifest.json. On import it is
// untrusted: parsed by this schema (every field bounded, names by the same rules as the
// channels, forwards by the shared parser), then checked as a whole (every file named once,
// the tree a tree), before anything is written. The ids in it only link its own parts: the
// import gives every snapshot a new id.
import * as v from 'valibot';
import { diskSizeProblem } from '../../../shared/bytes.js';
import { forwardsProblems, MAX_FORWARDS } from '../../../shared/forwards.js';
import { descriptionProblem, nameProblem } from '../../../shared/names.js';
import { ID_PATTERN } from '../ids.js';
import { cloudInitRecordSchema } from '../store/columns.js';
import { SNAPSHOT_TAKEN } from '../../../shared/types.js';
import { archiveError as bad, MEMBER_NAME } from './tar.js';

export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_MAX_BYTES = 1024 * 1024;
export const FORMAT = 'boxkeep-box';
export const FORMAT_VERSION = 1;
/** The files a snapshot's folder may carry besides its disk, and the most each may be. */
export const SNAPSHOT_EXTRAS = { 'screen.png': 720_000, 'efivars.fd': 64 * 1024 * 1024, 'memory.state': Number.MAX_SAFE_INTEGER } as const;
export type SnapshotExtra = keyof typeof SNAPSHOT_EXTRAS;
const MAX_SNAPSHOTS = 10_000;
const MAX_BOOT_FILE = 512 * 1024 * 1024;
const MAX_EFIVARS = SNAPSHOT_EXTRAS['efivars.fd'];

const size = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
/** A time in ms since 1970 that a Date can hold (8.64e15): beyond it the app's toISOString() throws while drawing the tree. */
const time = int(0, 8.64e15);
const file = v.pipe(v.string(), v.regex(MEMBER_NAME, 'a member name must be a plain file name'));
const id = v.pipe(v.string(), v.regex(ID_PATTERN, 'an id must be 12 hex digits'));
const ruled = (max: number, problem: (s: string) => string | null) =>
  v.pipe(v.string(), v.maxLength(max), v.check((s) => problem(s) === null, (i) => problem(String(i.input)) ?? 'not valid'));
const name = ruled(1024, (n) => nameProblem(n, 'name', { asRead: true }));
const layer = v.strictObject({ file, virtualSize: size });

const schema = v.strictObject({
  format: v.literal(FORMAT),
  version: v.literal(FORMAT_VERSION),
  createdAt: time,
  box: v.strictObject({
    name,
    cpus: int(1, 64),
    memoryMib: int(16, 1048576),
    diskSize: size,
    network: v.picklist(['nat', 'none']),
    forwards: v.pipe(v.array(v.pipe(v.string(), v.maxLength(128))), v.maxLength(MAX_FORWARDS), v.check((f) => forwardsProblems(f).length === 0, 'a port forward is not valid')),
    display: v.picklist(['vnc', 'none']),
    firmware: v.picklist(['bios', 'uefi']),
    stopTimeoutSec: int(1, 3600),
    installedFrom: v.nullable(name),
    cloudInit: v.nullable(cloudInitRecordSchema),
    live: layer,
    efivars: v.nullable(file),
    currentSnapshotId: v.nullable(id),
  }),
  image: v.nullable(v.strictObject({
    name,
    disk: layer,
    kernel: v.nullable(file),
    initrd: v.nullable(file),
    append: v.nullable(v.pipe(v.string(), v.maxLength(4096), v.regex(/^[^\u0000-\u001f\u007f]*$/))),
  })),
  snapshots: v.pipe(v.array(v.strictObject({
    id,
    parentId: v.nullable(id),
    name,
    description: ruled(4096, descriptionProblem),
    createdAt: time,
    live: v.boolean(),
    // How it was taken (absent from archives written before snapshots recorded it).
    taken: v.optional(v.picklist(SNAPSHOT_TAKEN)),
    // A memory state's records (what a restore with memory checks again). Carried for what reads
    // an archive; this import checks a memory member and drops it (QEMU would load it as trusted).
    memory: v.optional(v.strictObject({
      size,
      sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
      qemuVersion: v.pipe(v.string(), v.maxLength(64), v.regex(/^[\x20-\x7e]*$/)),
      machine: v.pipe(v.string(), v.maxLength(128), v.regex(/^[\x20-\x7e]*$/)),
      deviceHash: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
    })),
    disk: layer,
    extras: v.strictObject({
      'screen.png': v.optional(file),
      'efivars.fd': v.optional(file),
      'memory.state': v.optional(file),
    }),
  })), v.maxLength(MAX_SNAPSHOTS)),
  /** Every member after the manifest, in archive order. */
  files: v.pipe(v.array(v.strictObject({ name: file, size, sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) })), v.maxLength(3 * MAX_SNAPSHOTS + 8)),
});

export type Manifest = v.InferOutput<typeof schema>;
export type ManifestSnapshot = Manifest['snapshots'][number];

/** What a member is for: a qcow2 layer (its header is checked) or a plain file, and the most it may be. */
export interface MemberRole {
  kind: 'layer' | 'file';
  virtualSize?: number;
  maxSize: number;
  what: string;
}

/** Parses and checks the manifest's bytes; every member's role by name. Throws InvalidArgument saying what is wrong. */
export function parseManifest(bytes: Buffer): { manifest: Manifest; roles: Map<string, MemberRole> } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad('its manifest.json is not JSON');
  }
  const parsed = v.safeParse(schema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0]!;
    throw bad(`its manifest.json is not valid at ${v.getDotPath(issue) ?? 'the top'}: ${issue.message.slice(0, 200)}`);
  }
  const manifest = parsed.output;
  return { manifest, roles: checkWhole(manifest) };
}

function checkWhole(m: Manifest): Map<string, MemberRole> {
  const roles = new Map<string, MemberRole>();
  const claim = (name: string, role: MemberRole) => {
    if (roles.has(name) || name === MANIFEST_NAME) throw bad(`its manifest names the file ${JSON.stringify(name)} twice`);
    // Each layer's header must then say the same size (import.ts), so this bounds the disks too.
    const tooLarge = role.virtualSize === undefined ? null : diskSizeProblem(role.virtualSize);
    if (tooLarge) throw bad(`its manifest says ${role.what} (${JSON.stringify(name)}) is ${tooLarge}`);
    roles.set(name, role);
  };
  const boxDisk = diskSizeProblem(m.box.diskSize);
  if (boxDisk) throw bad(`its manifest gives the box ${boxDisk}`);
  claim(m.box.live.file, { kind: 'layer', virtualSize: m.box.live.virtualSize, maxSize: Number.MAX_SAFE_INTEGER, what: 'the live disk' });
  if (m.box.efivars) claim(m.box.efivars, { kind: 'file', maxSize: MAX_EFIVARS, what: 'the UEFI variables' });
  if ((m.box.firmware === 'uefi') !== (m.box.efivars !== null)) throw bad('its manifest has UEFI variables for a box without UEFI, or none for a UEFI box');
  if (m.image) {
    claim(m.image.disk.file, { kind: 'layer', virtualSize: m.image.disk.virtualSize, maxSize: Number.MAX_SAFE_INTEGER, what: 'the image disk' });
    if (m.image.kernel) claim(m.image.kernel, { kind: 'file', maxSize: MAX_BOOT_FILE, what: 'the kernel' });
    if (m.image.initrd) claim(m.image.initrd, { kind: 'file', maxSize: MAX_BOOT_FILE, what: 'the initrd' });
    if (m.image.initrd && !m.image.kernel) throw bad('its manifest has an initrd without a kernel');
  }
  const seen = new Set<string>();
  const names = new Set<string>();
  for (const s of m.snapshots) {
    if (seen.has(s.id)) throw bad(`its manifest has the snapshot id ${s.id} twice`);
    if (names.has(s.name)) throw bad(`its manifest has two snapshots called ${JSON.stringify(s.name)}`);
    // Parents first: this also rules out a loop in the tree.
    if (s.parentId !== null && !seen.has(s.parentId)) throw bad(`its manifest lists the snapshot ${JSON.stringify(s.name)} before its parent, or its parent is missing`);
    seen.add(s.id);
    names.add(s.name);
    claim(s.disk.file, { kind: 'layer', virtualSize: s.disk.virtualSize, maxSize: Number.MAX_SAFE_INTEGER, what: `the disk of the snapshot ${JSON.stringify(s.name)}` });
    for (const [extra, member] of Object.entries(s.extras) as [SnapshotExtra, string | undefined][]) {
      if (member) claim(member, { kind: 'file', maxSize: SNAPSHOT_EXTRAS[extra], what: `${extra} of the snapshot ${JSON.stringify(s.name)}` });
    }
  }
  if (m.box.currentSnapshotId !== null && !seen.has(m.box.currentSnapshotId)) throw bad('its manifest puts the current state under a snapshot it does not list');
  const listed = new Set<string>();
  for (const f of m.files) {
    if (listed.has(f.name)) throw bad(`its manifest lists the file ${JSON.stringify(f.name)} twice`);
    listed.add(f.name);
    const role = roles.get(f.name);
    if (!role) throw bad(`its manifest lists the file ${JSON.stringify(f.name)}, which nothing uses`);
    if (f.size > role.maxSize) throw bad(`its manifest says ${role.what} is ${f.size} bytes, more than such a file can be`);
  }
  for (const [name, role] of roles) if (!listed.has(name)) throw bad(`its manifest does not list ${role.what} (${JSON.stringify(name)}) among its files`);
  return roles;
}
