// Byte sizes for people: formatted the same way in core errors, the CLI and the UI, and
// parsed from what people type ("2G", "500M", "0").

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

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
