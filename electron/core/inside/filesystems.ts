// The filesystems of the disks an appliance holds, as libguestfs finds them (whole disks,
// partitions; LVM volumes are named but not compared: the volumes of two snapshots of one disk
// carry the same volume group, which LVM refuses to show twice).
import { BoxkeepError } from '../../../shared/errors.js';
import { quote, type Appliance } from './appliance.js';

export interface GuestFilesystem {
  /** As libguestfs names it: /dev/sda1, /dev/sdb (a whole disk), /dev/vg/lv. */
  device: string;
  type: string;
  /** Index of the disk it is on (the order the disks were added), or null for an LVM volume. */
  disk: number | null;
  /** The same filesystem on another disk of the same lineage: "/dev/sdb1" → "/dev/sda1". */
  key: string;
}

/** Types that hold no files to show. */
const NOT_FILES = new Set(['swap', 'unknown', '']);

/**
 * The filesystems on the first `disks` disks of the appliance (a warm one may hold more than
 * were asked for: a compared pair serves browsing its first snapshot). An LVM volume cannot be
 * told to one disk, so it is only shown when the appliance holds exactly the disks asked for.
 */
export async function findFilesystems(app: Appliance, disks = app.disks.length): Promise<GuestFilesystem[]> {
  const text = await app.must('list-filesystems');
  const out: GuestFilesystem[] = [];
  for (const line of text.split('\n')) {
    const at = line.lastIndexOf(': ');
    if (at < 0) continue;
    const device = line.slice(0, at);
    const type = line.slice(at + 2).trim();
    const m = /^\/dev\/sd([a-z])(\d*)$/.exec(device);
    const disk = m ? m[1]!.charCodeAt(0) - 97 : null;
    if (disk === null ? disks !== app.disks.length : disk >= disks) continue;
    out.push({ device, type, disk, key: m ? `/dev/sda${m[2]}` : device });
  }
  return out;
}

export const hasFiles = (fs: GuestFilesystem) => !NOT_FILES.has(fs.type) && fs.disk !== null;

/** Why a disk offers nothing to show file by file, or null when it has a filesystem Boxkeep reads. */
export function noFilesNote(all: GuestFilesystem[]): string | null {
  if (all.some(hasFiles)) return null;
  if (all.some((f) => f.disk === null)) return `The disk holds LVM volumes (${all.filter((f) => f.disk === null).map((f) => f.device).join(', ')}); Boxkeep does not look inside LVM yet.`;
  if (all.every((f) => f.type === 'unknown')) return 'The disk has no filesystem Boxkeep can read (it may be empty, or hold a format libguestfs does not know); only the changed bytes can be compared.';
  return `The disk holds no filesystem with files (only ${all.map((f) => `${f.device}: ${f.type}`).join(', ')}).`;
}

/** The one filesystem to browse: the one asked for, or the only one there is. */
export function chooseFilesystem(all: GuestFilesystem[], asked: string | undefined): GuestFilesystem {
  const usable = all.filter(hasFiles);
  if (asked !== undefined) {
    const found = usable.find((f) => f.device === asked || f.device === `/dev/${asked}`);
    if (!found) throw new BoxkeepError('NotFound', `The disk has no filesystem ${JSON.stringify(asked)}; it has ${usable.map((f) => f.device).join(', ') || 'none Boxkeep can read'}.`);
    return found;
  }
  if (usable.length === 1) return usable[0]!;
  if (usable.length === 0) throw new BoxkeepError('InvalidState', noFilesNote(all) ?? 'The disk has no filesystem Boxkeep can read.');
  throw new BoxkeepError('InvalidArgument', `The disk has ${usable.length} filesystems (${usable.map((f) => `${f.device}: ${f.type}`).join(', ')}); say which with --filesystem.`);
}

/** Mounts a filesystem read-only (or read-write for Now) at a fresh mountpoint of the appliance. */
export async function mount(app: Appliance, fs: GuestFilesystem, at: string, readWrite = false): Promise<void> {
  await app.mountpoint(at);
  const r = await app.run(`${readWrite ? 'mount' : 'mount-ro'} ${quote(fs.device)} ${at}`);
  if (!r.ok) throw new BoxkeepError('Storage', `The filesystem ${fs.device} (${fs.type}) could not be mounted inside the appliance: ${r.error}`);
}
