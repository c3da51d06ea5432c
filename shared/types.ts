// Domain types shared by every process. Sizes are bytes, times are epoch milliseconds.

export type BoxStatus = 'configured' | 'running' | 'paused' | 'stopping' | 'stopped' | 'failed';
export const BOX_STATUSES: readonly BoxStatus[] = ['configured', 'running', 'paused', 'stopping', 'stopped', 'failed'];

/** Running or paused: QEMU holds the box's disks. */
export const ACTIVE_STATUSES: readonly BoxStatus[] = ['running', 'paused'];
export const isActive = (status: BoxStatus) => ACTIVE_STATUSES.includes(status);
/** Active or stopping: QEMU may still hold the box's disks, so nothing offline may touch them. */
export const isBusy = (status: BoxStatus) => isActive(status) || status === 'stopping';

/** A disk a box's chain is built on, or installer media (an ISO 9660 image) a box boots from once. */
export type ImageKind = 'disk' | 'installer';

export interface Image {
  id: string;
  name: string;
  kind: ImageKind;
  /** The imported file, inside the home; read-only after import. */
  path: string;
  /** qcow2 for a disk, iso for installer media (attached as a read-only CD-ROM, never part of a chain). */
  format: 'qcow2' | 'iso';
  /** A disk's virtual size; for installer media the size of the ISO. */
  virtualSize: number;
  sizeOnDisk: number;
  /** Direct boot: kernel, initrd and command line, copied into the home at import. */
  kernelPath: string | null;
  initrdPath: string | null;
  append: string | null;
  createdAt: number;
}

/** `nat`: QEMU's user-mode network on a virtio-net card; `none`: no network card at all. */
export type NetworkMode = 'nat' | 'none';
export const NETWORK_MODES: readonly NetworkMode[] = ['nat', 'none'];

/** `vnc`: a VGA card, a USB tablet and QEMU's VNC server on a unix socket in the run folder; `none`: no screen. */
export type DisplayMode = 'vnc' | 'none';
export const DISPLAY_MODES: readonly DisplayMode[] = ['vnc', 'none'];

/** A host socket forwarded into the guest (user-mode network only). */
export interface PortForward {
  /** IPv4 address on the host; 127.0.0.1 unless given. */
  hostAddress: string;
  hostPort: number;
  guestPort: number;
  protocol: 'tcp' | 'udp';
}

/** What a box's NoCloud seed sets up (electron/core/cloudinit). The password is kept only as a hash, never shown. */
export interface CloudInit {
  user: string;
  sshKeys: string[];
  /** What the guest calls itself (local-hostname). */
  hostname: string;
  /** A password was given (its SHA-512 crypt hash is in the seed); else the user logs in with keys only. */
  password: boolean;
}

export interface Box {
  id: string;
  name: string;
  /** The image the box was made from: its chain's base disk; null for a box made from installer
   *  media, whose blank first disk stands alone (the ISO is installerImageId until ejected). */
  imageId: string | null;
  /** Installer media attached as a CD-ROM the box boots from first; null when none (or after Eject). */
  installerImageId: string | null;
  status: BoxStatus;
  /** Why the box failed (QEMU exit status, last console lines); null unless failed. */
  failureReason: string | null;
  cpus: number;
  memoryMib: number;
  /** Virtual size of the box's disk. */
  diskSize: number;
  network: NetworkMode;
  /** Only used with network 'nat'; kept when the network is off, so turning it on again restores them. */
  forwards: PortForward[];
  /** The guest's card address, made once at create (locally administered, 52:54:00:…). */
  macAddress: string;
  /** How long a graceful stop waits for the guest before cutting it off. */
  stopTimeoutSec: number;
  /** The screen: vnc unless the image boots a kernel directly (its console is the serial port). */
  display: DisplayMode;
  /** Settings changed while the box ran: they apply at its next start. */
  pendingRestart: boolean;
  /** A disk size asked for while the box ran (bytes): the disk grows to it at the next start, before QEMU opens it. */
  pendingDiskSize: number | null;
  /** While a graceful stop waits: when the wait ends (epoch ms) and the box is cut off; null otherwise. */
  stopDeadline: number | null;
  /** The snapshot "Now" hangs under; null before the first snapshot. */
  currentSnapshotId: string | null;
  /** A cloud-init seed attached as a second CD-ROM; null: none. */
  cloudInit: CloudInit | null;
  /** Always <home>/boxes/<id>/disks/container.qcow2. */
  liveDiskPath: string;
  createdAt: number;
  /** 'uefi': OVMF with the box's own variables (disks/efivars.fd, kept by each snapshot); set at create. */
  firmware: Firmware;
  /** For a box made from installer media: that installer's name (kept after Eject and after the ISO is removed); else null. */
  installedFrom: string | null;
  /** A linked clone: the snapshot of another box its disk backs onto (which then cannot be removed); null otherwise. */
  linkedSnapshotId: string | null;
}

export type Firmware = 'bios' | 'uefi';

/** 'snapshot': one of the box's own snapshots, or (a linked clone's base) of its source box's; 'unknown': a file no record names (a header edited by hand). */
export type DiskLayerKind = 'live' | 'snapshot' | 'image' | 'unknown';

/** One file of a box's backing chain, top (live disk) first. */
export interface DiskLayer {
  kind: DiskLayerKind;
  path: string;
  snapshotId: string | null;
  imageId: string | null;
  /** The snapshot's name (kind 'snapshot'), else null. */
  snapshotName: string | null;
  /** The box the snapshot belongs to when it is another box's (a linked clone's base), else null. */
  ofBox: { id: string; name: string } | null;
  virtualSize: number;
  sizeOnDisk: number;
  backingFile: string | null;
}

export interface BoxDetail extends Box {
  /** The image under the box's tree; null for a box made from installer media. */
  image: Image | null;
  chain: DiskLayer[];
  snapshotCount: number;
  /** Bytes on disk in the box's folder: the live disk, every snapshot, its logs (not the image). Removing the box frees this. */
  spaceUsed: number;
  /**
   * Now (the live disk) holds changes since the current snapshot (or since the image): a
   * restore would lose them. False only when the live overlay maps no cluster at all; a
   * running or paused box always counts as changed.
   */
  nowChanged: boolean;
  /** A live snapshot of the box left unsettled, or a live removal of it left to finish: the box accepts no changes until it is settled. */
  unsettled: UnsettledSnapshot | null;
}

/**
 * A live snapshot whose QEMU did not say whether it switched to the new disk (it stopped
 * answering): nothing was undone, and the owner settles it as soon as that QEMU answers or exits.
 * Or (kind 'removal') a live removal that failed after its merge began: it cannot be undone, and
 * the owner finishes it by itself, trying again until it can.
 */
export interface UnsettledSnapshot {
  kind: 'snapshot' | 'removal';
  /** The snapshot taken, or being removed (null: its row is gone already, the record not yet). */
  snapshotName: string | null;
  /** The box's QEMU (for a snapshot, the one that does not answer); 0 when its run folder does not say. */
  qemuPid: number;
  /** When the snapshot, or its removal, was asked for. */
  since: number;
}

/** When an owner settles such a record by itself (recovery/settle-later.ts): only while one holds the home. */
export const BY_ITSELF = 'while the app or "boxkeep serve" holds the home, else when the home is next opened';

export interface Snapshot {
  id: string;
  boxId: string;
  /** The snapshot this one descended from; null for a root. */
  parentId: string | null;
  name: string;
  description: string;
  createdAt: number;
  /** Bytes its frozen disk file takes. */
  sizeOnDisk: number;
  virtualSize: number;
  /** Taken while the box was running. */
  live: boolean;
  /** How it was taken: what a restore gives back (SNAPSHOT_TAKEN_WORDS says it in words). */
  taken: SnapshotTaken;
  diskPath: string;
  /** A small picture of the screen was kept (live snapshots of a box with a screen): snapshots:picture gives it. */
  hasPicture: boolean;
  /** Kept whatever the box's retention says: pruning never removes a pinned snapshot. */
  pinned: boolean;
  /** Taken by the box's AutoProtect schedule; only these are ever pruned. */
  auto: boolean;
  /** The running machine's memory and device state (taken 'with-memory'); absent: disk only. */
  memory?: SnapshotMemory;
}

/** What a snapshot with memory kept beside its disk (snapshots/<id>/memory.state). */
export interface SnapshotMemory {
  /** Bytes of the state file. */
  size: number;
  sha256: string;
  /** QEMU's version and machine type at the snapshot, and a hash of its device configuration: a restore with memory needs all three again. */
  qemuVersion: string;
  machine: string;
  deviceHash: string;
}

/**
 * Whether a restore of this snapshot could resume its memory now (snapshots:resumable): the
 * checks a restore with memory makes before it changes anything, asked without restoring.
 */
export interface MemoryResume {
  /** The snapshot kept its memory, and the box, started now, could load it. */
  resumable: boolean;
  /** Why not, worded to follow "its memory can't be resumed: "; null when it can. */
  reason: string | null;
}

/**
 * How a snapshot was taken. stopped: the disk of a stopped box. crash-consistent: the disk of a
 * running box at one instant, as after a power cut. filesystems-frozen: the same with the
 * guest's filesystems frozen by its agent (their data is on the disk). with-memory: the disk and
 * the memory at one instant; a restore resumes the running machine.
 */
export type SnapshotTaken = 'stopped' | 'crash-consistent' | 'filesystems-frozen' | 'with-memory';
export const SNAPSHOT_TAKEN: readonly SnapshotTaken[] = ['stopped', 'crash-consistent', 'filesystems-frozen', 'with-memory'];
export const SNAPSHOT_TAKEN_WORDS: Record<SnapshotTaken, string> = {
  stopped: 'while the box was stopped',
  'crash-consistent': 'while the box ran, disk only (crash-consistent)',
  'filesystems-frozen': 'while the box ran, disk only (filesystems frozen)',
  'with-memory': 'while the box ran, with its memory',
};

/** A PNG picture of a screen, as base64 (transports carry JSON). */
export interface ScreenPicture {
  width: number;
  height: number;
  png: string;
}

export interface Screenshot extends ScreenPicture {
  boxId: string;
  takenAt: number;
}

export interface SnapshotPicture extends ScreenPicture {
  snapshotId: string;
}

export interface SnapshotTree {
  boxId: string;
  currentId: string | null;
  /** Depth-first order: every parent before its children, siblings oldest first. */
  snapshots: Snapshot[];
}

/** A stopped box, and whether the guest had to be cut off (--force, or it ignored the shutdown request). */
export interface StopResult extends Box {
  forced: boolean;
}

export interface RestoreResult {
  box: Box;
  snapshot: Snapshot;
  /** The snapshot of the state before the restore, when one was asked for. */
  savedSnapshot: Snapshot | null;
}

export interface RemoveSnapshotResult {
  removedId: string;
  freedBytes: number;
  /** Children that now hang under the removed snapshot's parent. */
  reparentedIds: string[];
  /** Now (the live disk) depended on the removed snapshot and now follows its parent too. */
  nowReparented: boolean;
}

export type RecoveryLevel = 'repaired' | 'kept' | 'info';

export interface RecoveryItem {
  level: RecoveryLevel;
  boxId: string | null;
  message: string;
}

export interface RecoveryReport {
  at: number;
  elapsedMs: number;
  items: RecoveryItem[];
}

export type TaskKind = 'snapshot-create' | 'snapshot-restore' | 'snapshot-remove' | 'image-import' | 'box-create' | 'box-remove'
  | 'box-export' | 'box-import' | 'box-clone' | 'snapshot-diff';

export interface TaskProgress {
  taskId: string;
  kind: TaskKind;
  boxId: string | null;
  /** 0..1 */
  fraction: number;
  message: string;
  done: boolean;
  error: { code: string; message: string } | null;
}

export interface ConsoleOutput {
  boxId: string;
  lines: string[];
  /** The last line has no newline yet (a prompt, or a line still being written): what the guest prints next goes on it. */
  open: boolean;
}

export interface SystemInfo {
  home: string;
  version: string;
  accelerator: 'kvm' | 'tcg' | 'unknown';
  qemuVersion: string | null;
  /** The filesystem holding the home, as the space guard sees it now. */
  space: DiskSpace;
}

export interface DiskSpace {
  /** Bytes this user may still write on the home's filesystem. */
  free: number;
  total: number;
  /** Free space operations leave untouched: the setting, or the default when none is set. */
  reserve: number;
}

export interface Settings {
  /** The disk reserve in bytes; null: the default (the larger of 2 GiB and 5 % of the filesystem). */
  diskReserve: number | null;
  /** What the guard applies now, and the free space it compares with. */
  space: DiskSpace;
}

/** One layer as `boxkeep check` found it. */
export interface CheckedLayer {
  kind: 'live' | 'snapshot' | 'image';
  snapshotId: string | null;
  /** The snapshot's or image's name; "Now" for the live disk. */
  name: string;
  path: string;
  ok: boolean;
  /** Empty when ok; else what is wrong, in words. */
  problems: string[];
}

export interface CheckReport {
  /** True when no layer of any checked box is damaged. */
  ok: boolean;
  damaged: number;
  boxes: { boxId: string; box: string; ok: boolean; layers: CheckedLayer[] }[];
  elapsedMs: number;
}

/**
 * A box's AutoProtect policy (electron/core/protect): when automatic snapshots are taken and
 * which of them retention keeps. Counts of 0 keep none by that rule; a snapshot any rule keeps
 * stays. Off: no schedule, no pruning.
 */
export interface ProtectPolicy {
  enabled: boolean;
  /** A snapshot after every this many minutes the box has run (at least 1); null: none. */
  everyMinutes: number | null;
  /** A snapshot each day at this local time, "HH:MM", while the box runs; null: none. */
  dailyAt: string | null;
  /** A snapshot before each stop asked for (box stop). */
  beforeStop: boolean;
  keepLast: number;
  keepHourly: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
}

/** A box's policy with what the schedule will do next, as the owner of the home sees it. */
export interface ProtectStatus {
  boxId: string;
  policy: ProtectPolicy;
  /** When the next automatic snapshot is due (epoch ms) if the box keeps running; null: none planned. */
  nextRunAt: number | null;
  /** Why the schedule waits for this box (the disk is short of space); null: it runs. */
  pausedReason: string | null;
  /** The last automatic snapshot that failed, and why; null after one succeeds. */
  lastError: string | null;
}

/** One entry of a guest filesystem, read through libguestfs (never mounted on the host). Paths are the guest's, from the filesystem's root. */
export interface GuestEntry {
  path: string;
  kind: 'file' | 'dir' | 'link' | 'other';
  /** Permission bits (with setuid/setgid/sticky), without the type. */
  mode: number;
  size: number;
  mtimeMs: number;
  /** Seconds.nanoseconds as text: exact, for comparing. */
  mtimeNs: string;
  ctimeNs: string;
  ino: number;
  uid: number;
  gid: number;
  /** A link's target, as the guest wrote it (never followed). */
  target?: string;
}

/** What differs for one path between two states of a disk. */
export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'modified';
  /** For modified: which facts differ ('type', 'size', 'mode', 'owner', 'mtime', 'content', 'target'). */
  what: string[];
  before: GuestEntry | null;
  after: GuestEntry | null;
}

/** The changes on one filesystem of the disk ("/dev/sda1", or "/dev/sda" for a disk without partitions). */
export interface FilesystemChanges {
  filesystem: string;
  type: string;
  changes: FileChange[];
  /** Why this filesystem could not be compared (then changes is empty). */
  problem: string | null;
}

/** snapshots:diff: how much guest data differs between two states, and (with files) which files. */
export interface SnapshotDiff {
  boxId: string;
  from: { id: string; name: string };
  /** id null: the box's current disk (Now). */
  to: { id: string | null; name: string };
  /** Guest bytes written between the two (the clusters the layers between them map). */
  changedBytes: number;
  files: FilesystemChanges[] | null;
  /** Said when the disk holds nothing Boxkeep can compare file by file (no filesystem, LVM). */
  filesNote: string | null;
  /** The file list came from the cache kept with the snapshot. */
  cached: boolean;
}

/** snapshots:files: one folder (or file) of a snapshot's filesystem. */
export interface GuestFolder {
  boxId: string;
  snapshotId: string;
  filesystem: string;
  /** Every filesystem the disk has, as "/dev/sda1: ext4". */
  filesystems: string[];
  entry: GuestEntry;
  /** The folder's entries; empty for a file. */
  entries: GuestEntry[];
}

/** snapshots:getFile / snapshots:putFile: what was copied. */
export interface FileCopyResult {
  destination: string;
  files: number;
  folders: number;
  links: number;
  bytes: number;
  /** Entries not copied, and why (a device node, a name no host path may take). */
  skipped: string[];
}
