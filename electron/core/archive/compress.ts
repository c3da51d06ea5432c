// Compression of .boxkeep archives. zstd where its binary is installed (the default then),
// gzip through node:zlib otherwise; an import recognises either (or none) by its magic bytes.
// Why zstd first: qcow2 layers hold mostly zero-filled and text-like clusters; zstd -3 gets a
// ratio near gzip -6 at several times its speed on both sides, and decompresses near disk
// speed, so the archive costs little beyond the copy. Node 20's zlib has no zstd, so it runs
// as `zstd` in a pipe; the archive's tar structure is still read by our own reader in-process,
// zstd only ever sees compressed bytes. `-M` caps the window zstd accepts from an untrusted file.
import type { Duplex } from 'node:stream';
import { childProcess, stream, zlib } from '../builtins.js';
import { BoxkeepError } from '../../../shared/errors.js';

export type Compression = 'zstd' | 'gzip' | 'none';

let zstdFound: boolean | null = null;
export function zstdAvailable(): boolean {
  if (zstdFound === null) zstdFound = childProcess().spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
  return zstdFound;
}

export function defaultCompression(): Compression {
  return zstdAvailable() ? 'zstd' : 'gzip';
}

/** What the first bytes of a file say it is compressed with; null: neither, nor a tar. */
export function compressionOf(head: Buffer): Compression | null {
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 263 && head.toString('latin1', 257, 262) === 'ustar') return 'none';
  return null;
}

export function compressor(kind: Compression): Duplex | null {
  if (kind === 'none') return null;
  if (kind === 'gzip') return zlib().createGzip({ level: 6 });
  return zstdPipe(['-q', '-c', '-3', '-T0']);
}

export function decompressor(kind: Compression): Duplex | null {
  if (kind === 'none') return null;
  if (kind === 'gzip') return zlib().createGunzip();
  if (!zstdAvailable()) throw new BoxkeepError('InvalidState', 'The archive is compressed with zstd, and zstd is not installed; install it with: sudo apt-get install zstd');
  return zstdPipe(['-q', '-d', '-c', '-M128MB']);
}

/** zstd as a Duplex: bytes in on stdin, out on stdout; a failure (exit status) errors the stream. */
function zstdPipe(args: string[]): Duplex {
  const child = childProcess().spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 2000) stderr += d.toString(); });
  const duplex = stream().Duplex.from({ writable: child.stdin!, readable: child.stdout! });
  child.on('error', (err) => duplex.destroy(err));
  child.on('close', (code, signal) => {
    if (code !== 0 && !duplex.destroyed) {
      duplex.destroy(new BoxkeepError('InvalidArgument', `zstd failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(0, 300) || 'the compressed data is damaged'}`));
    }
  });
  duplex.on('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return duplex;
}
