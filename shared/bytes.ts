// Byte sizes for people: formatted the same way in core errors, the CLI and the UI, and
// parsed from what people type ("2G", "500M", "0").

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/**
 * The largest virtual disk Boxkeep takes, 16 TiB: from `--disk-size` (its most), from an imported
 * image or archive (checked at import, before anything is written), or grown by `box set`. Why
 * this and not qemu-img's own limit: qemu-img takes a qcow2 up to 2 PiB with 64 KiB clusters (its
 * L1 table is at most 32 MiB) and up to 2 EiB with 2 MiB clusters, and a raw disk as large as the
 * host's filesystem allows, so a header claiming an exabyte is "valid" there. What Boxkeep builds
 * on it assumes far less: the space guard counts 1 MiB for each new overlay (space.ts
 * OVERLAY_BYTES), which holds the L1 table of a disk up to 16 TiB (8 bytes per 512 MiB: 256 KiB)
 * and no more; overlays are written in-process up to 64 TiB (qcow2-create.ts). A box made from an
 * image keeps its size, so a larger image gave a box whose every snapshot and restore wrote an
 * L1 table the guard had not counted (32 MiB at 2 PiB), and which `--disk-size` could not name.
 */
export const MAX_DISK_GIB = 16 * 1024;
export const MAX_DISK_BYTES = MAX_DISK_GIB * 2 ** 30;

/** What is wrong with a virtual disk of this size ("a virtual disk of 1 EiB (…) bytes), more than …"), or null. */
export function diskSizeProblem(virtualSize: number): string | null {
  if (virtualSize <= MAX_DISK_BYTES) return null;
  return `a virtual disk of ${humanBytes(virtualSize)} (${virtualSize} bytes), more than the ${humanBytes(MAX_DISK_BYTES)} Boxkeep takes`;
}

/** 0 B, 512 B, 1.5 KiB, 196 KiB, 32 MiB, 1.2 GiB: one decimal below 10, none above. */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  let shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  // 1023.7 KiB rounds to 1024 KiB: carry it into the next unit instead.
  if (shown >= 1024 && unit < UNITS.length - 1) {
    unit++;
    shown = Math.round((shown / 1024) * 10) / 10;
  }
  return `${Number.isInteger(shown) ? shown : shown.toFixed(1)} ${UNITS[unit]}`;
}

const FACTORS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * "2G", "500M", "1.5G", "4096", "0": binary units (K, M, G, T, with optional "iB"/"B"),
 * bytes when none. Returns null when the text is not a size.
 */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = m[2]!.toUpperCase();
  const bytes = Math.round(Number(m[1]) * FACTORS[unit]!);
  return Number.isSafeInteger(bytes) ? bytes : null;
}
