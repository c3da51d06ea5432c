// The only place that runs qemu-img. Rules that keep untrusted images harmless:
// - formats are always explicit (-f/-F/-O): a probed format lets a raw guest disk that starts
//   with a qcow2 header name any host file as its backing file;
// - every path is made absolute first: an absolute path cannot be read as an option ("-x"),
//   a protocol ("nbd:...") or a "json:{...}" pseudo-filename;
// - spawn with an argument array, never a shell.
//
// Progress: measured on QEMU 7.2, `-p` prints "    (NN.NN/100%)\r" updates for convert, commit
// and rebase even when stdout is a pipe, so we parse them. We still always report 0 at the
// start and 1 at the end, because small or unsafe operations may print nothing between.
import { childProcess, fsPromises } from '../builtins.js';
import path from 'node:path';
import { BoxkeepError, alreadyExists, invalidArgument, storageError } from '../../../shared/errors.js';
import { isQcow2, readQcow2Header } from './qcow2.js';
import { emptyQcow2, writeNewFile, type Backing } from './qcow2-create.js';

export type OnProgress = (fraction: number) => void;

const QEMU_IMG = 'qemu-img';
export const MISSING_QEMU_IMG = 'qemu-img was not found on PATH; install it with: sudo apt-get install qemu-utils';
/** Enough for any info/check JSON; a pathological image cannot make us buffer without bound. */
const MAX_STDOUT = 8 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;
const STDERR_LINES = 5;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Standalone qcow2. Refuses to overwrite: `qemu-img create` silently truncates an existing file. */
export async function createDisk(file: string, virtualSize: number): Promise<void> {
  const target = absolute(file);
  checkSize(virtualSize);
  await refuseExisting(target);
  await createEmpty(target, virtualSize, null, false, `Creating disk ${target}`);
}

/** A new empty qcow2 whose backing is `backing`, recorded as an absolute canonical path.
 *  `unsafe` (-u) skips opening the backing, which may not exist yet (live snapshot: the overlay
 *  is created before the rename that puts its backing in place). */
export async function createOverlay(file: string, backing: string, virtualSize: number, opts?: { unsafe?: boolean }): Promise<void> {
  const target = absolute(file);
  checkSize(virtualSize);
  await refuseExisting(target);
  const unsafe = opts?.unsafe ?? false;
  const b = await resolveBacking(backing, unsafe, `Creating overlay ${target}`);
  if (!unsafe && b.format === 'qcow2') await backingOpens(b.path, `Creating overlay ${target}`);
  await createEmpty(target, virtualSize, b, unsafe, `Creating overlay ${target} on ${b.path}`);
}

/** In-process when qcow2-create.ts can write exactly qemu-img's bytes (every size and name the
 *  engine uses), else by qemu-img itself. */
async function createEmpty(target: string, virtualSize: number, b: Backing | null, unsafe: boolean, what: string): Promise<void> {
  const bytes = emptyQcow2(virtualSize, b);
  // writeNewFile opens with O_EXCL; qemu-img truncates, so there only refuseExisting guards.
  if (bytes) return writeNewFile(target, bytes, what);
  const backingArgs = b ? [...(unsafe ? ['-u'] : []), '-b', b.path, '-F', b.format] : [];
  await runOk(['create', '-q', '-f', 'qcow2', ...backingArgs, target, String(virtualSize)], what);
}

/** Copies the guest-visible content of `src` (read as exactly `srcFormat`) into a new qcow2. */
export async function convert(src: string, srcFormat: 'qcow2' | 'raw', dst: string, opts?: { onProgress?: OnProgress }): Promise<void> {
  const from = absolute(src);
  const to = absolute(dst);
  checkFormat(srcFormat);
  await refuseExisting(to);
  await runWithProgress(['convert', '-p', '-f', srcFormat, '-O', 'qcow2', from, to], `Converting ${from} to ${to}`, opts?.onProgress);
}

/** Changes `file`'s backing. Safe mode copies whatever differs so the guest sees the same bytes;
 *  `unsafe` only rewrites the header. `null` flattens (safe) or drops the backing (unsafe). */
export async function rebase(file: string, newBacking: string | null, opts?: { onProgress?: OnProgress; unsafe?: boolean }): Promise<void> {
  const target = absolute(file);
  const unsafe = opts?.unsafe ?? false;
  const what = newBacking === null ? `Flattening ${target}` : `Rebasing ${target} onto ${newBacking}`;
  const backingArgs: string[] = [];
  if (newBacking === null) {
    backingArgs.push('-b', '');
  } else {
    const b = await resolveBacking(newBacking, unsafe, what);
    backingArgs.push('-b', b.path, '-F', b.format);
  }
  const args = ['rebase', '-p', '-f', 'qcow2', ...(unsafe ? ['-u'] : []), ...backingArgs, target];
  await runWithProgress(args, what, opts?.onProgress);
}

/** Writes `file`'s clusters into its backing file and leaves `file` unchanged (-d). */
export async function commit(file: string, opts?: { onProgress?: OnProgress }): Promise<void> {
  const target = absolute(file);
  // `commit` has no -F: QEMU takes the backing format from the header and probes when there is
  // none. Refuse that case instead of letting a write go into a guessed format.
  const what = `Committing ${target} into its backing file`;
  const header = await headerOf(target, what);
  if (header.backingFile === null) throw invalidArgument(`${target} has no backing file, so there is nothing to commit into.`);
  if (header.backingFormat !== 'qcow2' && header.backingFormat !== 'raw') {
    throw invalidArgument(`${target}: its backing file has no usable recorded format (${header.backingFormat ?? 'none'}); refusing to commit into a guessed format.`);
  }
  await runWithProgress(['commit', '-f', 'qcow2', '-d', '-p', target], what, opts?.onProgress);
}

/** `layerOnly`: checks the one file without opening its backing chain (which a tampered
 *  header could point anywhere), the file node named explicitly as QEMU's start does. */
export async function check(file: string, opts?: { shareLocked?: boolean; layerOnly?: boolean }): Promise<{ ok: boolean; corruptions: number; leaks: number; output: string }> {
  const target = absolute(file);
  const what = `Checking ${target}`;
  const image = opts?.layerOnly ? ['json:' + JSON.stringify({ driver: 'qcow2', backing: null, file: { driver: 'file', filename: target } })] : ['-f', 'qcow2', target];
  const args = ['check', '--output=json', ...(opts?.shareLocked ? ['-U'] : []), ...image];
  const r = await run(args, what);
  // 0 clean, 2 corruptions, 3 leaks only. 1 means the check itself could not run, 63 that the
  // format cannot be checked: those are failures, not findings.
  if (r.code !== 0 && r.code !== 2 && r.code !== 3) throw failure(what, r);
  const report = parseJson(r.stdout, what) as Record<string, unknown>;
  const corruptions = count(report['corruptions']);
  const leaks = count(report['leaks']);
  const checkErrors = count(report['check-errors']);
  // stderr carries the per-cluster findings ("ERROR cluster 1 refcount=0 reference=1").
  const output = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join('\n');
  return { ok: r.code === 0 && corruptions === 0 && leaks === 0 && checkErrors === 0, corruptions, leaks, output };
}

/** `backingFile` is the resolved absolute name QEMU would open (full-backing-filename). */
export async function info(file: string, opts?: { shareLocked?: boolean }): Promise<{ virtualSize: number; actualSize: number; backingFile: string | null; format: string }> {
  const target = absolute(file);
  const what = `Reading image information of ${target}`;
  const r = await runOk(['info', '-f', 'qcow2', '--output=json', ...(opts?.shareLocked ? ['-U'] : []), target], what);
  const j = parseJson(r.stdout, what) as Record<string, unknown>;
  const backing = j['full-backing-filename'] ?? j['backing-filename'];
  return {
    virtualSize: count(j['virtual-size']),
    actualSize: count(j['actual-size']),
    backingFile: typeof backing === 'string' && backing !== '' ? backing : null,
    format: typeof j['format'] === 'string' ? j['format'] : 'qcow2',
  };
}

/** What converting `src` (read as exactly `format`) to qcow2 writes, by `qemu-img measure`. */
export async function measureConvert(src: string, format: 'qcow2' | 'raw'): Promise<number> {
  const from = absolute(src);
  checkFormat(format);
  const what = `Measuring ${from}`;
  const r = await runOk(['measure', '-f', format, '-O', 'qcow2', '--output=json', from], what);
  return count((parseJson(r.stdout, what) as Record<string, unknown>)['required']);
}

/** Grow only: shrinking would cut off guest data, so a smaller size is refused, an equal one is a no-op. */
export async function resize(file: string, virtualSize: number): Promise<void> {
  const target = absolute(file);
  checkSize(virtualSize);
  const what = `Resizing ${target} to ${virtualSize} bytes`;
  const current = (await headerOf(target, what)).virtualSize;
  if (virtualSize < current) throw invalidArgument(`${target} is ${current} bytes; shrinking a disk to ${virtualSize} bytes is not supported.`);
  if (virtualSize === current) return;
  await runOk(['resize', '-q', '-f', 'qcow2', target, String(virtualSize)], what);
}

let versionPromise: Promise<string> | null = null;

/** Resolves "7.2.22"-style version text; cached once it succeeds. */
export async function requireQemuImg(): Promise<string> {
  versionPromise ??= (async () => {
    const r = await runOk(['--version'], 'Running qemu-img --version');
    const m = /qemu-img version (\S+)/.exec(r.stdout);
    return m ? m[1] : r.stdout.split('\n')[0].trim();
  })();
  try {
    return await versionPromise;
  } catch (err) {
    versionPromise = null; // let a later call see a freshly installed binary
    throw err;
  }
}

// ---- helpers ---------------------------------------------------------------------------------

/** Every wrapper reports a missing input the same way: Storage, saying what failed. */
async function headerOf(target: string, what: string) {
  try {
    return await readQcow2Header(target);
  } catch (err) {
    if (err instanceof BoxkeepError && err.code === 'NotFound') throw storageError(`${what} failed: ${target} does not exist.`, err);
    throw err;
  }
}

/** Absolute but not normalised: path.resolve would fold "link/.." lexically, while qemu-img
 *  (through the kernel) resolves it after following the link. */
function absolute(p: string): string {
  return path.isAbsolute(p) ? p : `${process.cwd()}/${p}`;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0) throw invalidArgument(`A disk size must be a positive whole number of bytes, got ${size}.`);
  if (size % 512 !== 0) throw invalidArgument(`A disk size must be a multiple of 512 bytes, got ${size}.`);
}

function checkFormat(format: string): void {
  if (format !== 'qcow2' && format !== 'raw') throw invalidArgument(`Unsupported image format "${format}"; use qcow2 or raw.`);
}

async function refuseExisting(target: string): Promise<void> {
  try {
    await fsPromises().lstat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw storageError(`${target}: could not check whether the file exists (${(err as Error).message}).`, err);
  }
  throw alreadyExists(`${target} already exists; remove it first (qemu-img would overwrite it).`);
}

async function resolveBacking(backing: string, unsafe: boolean, what: string): Promise<Backing> {
  const given = absolute(backing);
  let canonical: string;
  try {
    canonical = await fsPromises().realpath(given); // libuv realpath: ".." resolved after symlinks, as QEMU would
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storageError(`${what} failed: cannot resolve ${given} (${(err as Error).message}).`, err);
    if (!unsafe) throw storageError(`${what} failed: the backing file ${given} does not exist.`, err);
    // Not there yet (unsafe mode): it will be qcow2, because Boxkeep only moves its own disks into place.
    return { path: path.resolve(backing), format: 'qcow2' };
  }
  return { path: canonical, format: (await isQcow2(canonical)) ? 'qcow2' : 'raw' };
}

/** Safe mode's check that qemu-img made by opening the backing (without its chain): a file
 *  with the qcow2 magic but a header no reader accepts must not become anyone's backing. */
async function backingOpens(backing: string, what: string): Promise<void> {
  try {
    await readQcow2Header(backing);
  } catch (err) {
    throw storageError(`${what} failed: the backing file cannot be opened (${(err as Error).message})`, err);
  }
}

async function runOk(args: string[], what: string, onProgress?: OnProgress): Promise<RunResult> {
  const r = await run(args, what, onProgress);
  if (r.code !== 0) throw failure(what, r);
  return r;
}

async function runWithProgress(args: string[], what: string, onProgress?: OnProgress): Promise<void> {
  let last = 0;
  // A throwing callback (say, a closed window) must not abort a half-done commit or rebase:
  // its errors are dropped. Updates only move forward and 1 is sent exactly once.
  const send = (fraction: number) => {
    try {
      onProgress?.(fraction);
    } catch {
      /* see above */
    }
  };
  const report = (fraction: number) => {
    if (fraction <= last) return;
    last = fraction;
    send(fraction);
  };
  send(0);
  await runOk(args, what, onProgress ? report : undefined);
  // Commit prints "(100.00/100%)" several times and unsafe rebase may print nothing at all.
  if (last < 1) send(1);
}

function run(args: string[], what: string, onProgress?: OnProgress): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // LC_ALL=C keeps messages in English, which we show and tests match on.
    const child = childProcess().spawn(QEMU_IMG, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    let pending = ''; // progress text after the last '\r', may be a split update
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (stdout.length < MAX_STDOUT) stdout += chunk.slice(0, MAX_STDOUT - stdout.length);
      if (!onProgress) return;
      pending += chunk;
      const cut = pending.lastIndexOf('\r');
      if (cut < 0) {
        if (pending.length > 4096) pending = pending.slice(-256);
        return;
      }
      const complete = pending.slice(0, cut);
      pending = pending.slice(cut + 1);
      for (const m of complete.matchAll(/\((\d{1,3}(?:\.\d+)?)\/100%\)/g)) {
        const pct = Number(m[1]);
        if (pct >= 0 && pct <= 100) onProgress(pct / 100);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new BoxkeepError('Storage', MISSING_QEMU_IMG, { cause: err }));
      else reject(storageError(`${what} failed: qemu-img could not be started (${err.message}).`, err));
    });
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal && !stderr ? `qemu-img was killed by ${signal}` : stderr });
    });
  });
}

function failure(what: string, r: RunResult): BoxkeepError {
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-STDERR_LINES);
  const detail = lines.length > 0 ? lines.join('\n') : `qemu-img exited with code ${r.code} and printed no error`;
  return storageError(`${what} failed: ${detail}`);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw storageError(`${what} failed: qemu-img printed output that is not JSON (${text.slice(0, 200)}).`, err);
  }
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
