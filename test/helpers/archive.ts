// Test-side tar: reads an (uncompressed, trusted) archive Boxkeep wrote into its members, and
// writes members back, hostile ones too (paths, links, wrong sizes). Independent of the
// product's tar code on purpose, so a test does not check that code against itself.
import crypto from 'node:crypto';
import fs from 'node:fs';

export interface TarEntry {
  name: string;
  data: Buffer;
  /** ustar type flag; '0' unless given. */
  type?: string;
  linkname?: string;
  /** The size the header claims; data.length unless given. */
  claimedSize?: number;
}

export function readTar(file: string): TarEntry[] {
  const buf = fs.readFileSync(file);
  const out: TarEntry[] = [];
  for (let at = 0; at + 512 <= buf.length; ) {
    const h = buf.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.toString('latin1', 0, 100).replace(/\0.*$/s, '');
    const size = parseInt(h.toString('latin1', 124, 136).replace(/\0.*$/s, ''), 8);
    out.push({ name, data: Buffer.from(buf.subarray(at + 512, at + 512 + size)), type: String.fromCharCode(h[156]!) });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

export function writeTar(file: string, entries: TarEntry[]): void {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'latin1');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write((e.claimedSize ?? e.data.length).toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write(e.type ?? '0', 156);
    if (e.linkname) h.write(e.linkname, 157, 100, 'latin1');
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    parts.push(h, e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  fs.writeFileSync(file, Buffer.concat(parts));
}

export const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** The manifest (first member) parsed, and a way to put an edited one back. */
export function manifestOf(entries: TarEntry[]): Record<string, any> {
  return JSON.parse(entries[0]!.data.toString('utf8'));
}

export function withManifest(entries: TarEntry[], manifest: unknown): TarEntry[] {
  return [{ ...entries[0]!, data: Buffer.from(JSON.stringify(manifest)) }, ...entries.slice(1)];
}

/** Replaces one member's bytes and keeps the manifest's size and checksum in step (a well-formed archive of a hostile disk). */
export function replaceMember(entries: TarEntry[], name: string, data: Buffer): TarEntry[] {
  const manifest = manifestOf(entries);
  const f = manifest.files.find((x: { name: string }) => x.name === name);
  f.size = data.length;
  f.sha256 = sha256(data);
  return withManifest(entries, manifest).map((e) => (e.name === name ? { ...e, data } : e));
}
