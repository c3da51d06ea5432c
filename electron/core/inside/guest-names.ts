// Guest file names are bytes, not text: an old filesystem holds Latin-1 names, a hostile one
// anything but "/" and NUL. Decoded as UTF-8 with replacement, such a name no longer names its
// file (every lstat of it fails, and one such file made a whole listing or copy fail). So a
// byte that is not part of valid UTF-8 becomes a lone surrogate U+DC80..U+DCFF (Python's
// "surrogateescape"), which no valid UTF-8 decodes to: the name round-trips exactly to the
// guest, and shows (and JSON-encodes) as an escape rather than silently as another name.
const ESCAPE_BASE = 0xdc00;
const strict = new TextDecoder('utf-8', { fatal: true });

/** The guest's name bytes as a string that encodes back to exactly those bytes (guestNameBytes). */
export function decodeGuestName(raw: Buffer): string {
  try {
    return strict.decode(raw);
  } catch {
    // Some bytes are not UTF-8: decode sequence by sequence, escaping each bad byte.
  }
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const n = sequenceLength(raw[i]!);
    const piece = n > 0 && i + n <= raw.length ? tryDecode(raw.subarray(i, i + n)) : null;
    if (piece === null) {
      out += String.fromCharCode(ESCAPE_BASE + raw[i]!);
      i += 1;
    } else {
      out += piece;
      i += n;
    }
  }
  return out;
}

/** The bytes a guest name stands for (the inverse of decodeGuestName). */
export function guestNameBytes(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const ch of name) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= ESCAPE_BASE + 0x80 && code <= ESCAPE_BASE + 0xff) parts.push(Buffer.from([code - ESCAPE_BASE]));
    else parts.push(Buffer.from(ch, 'utf8'));
  }
  return Buffer.concat(parts);
}

/** True when a name holds bytes that are not UTF-8 (escaped by decodeGuestName). */
export function hasRawBytes(name: string): boolean {
  // With the u flag a valid surrogate pair is one code point, so only lone escapes match.
  return /[\udc80-\udcff]/u.test(name);
}

function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

function tryDecode(bytes: Buffer): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}
