// What the CLI's start-up work (bin/cli-loader.cjs, electron/cli/io.ts) must not change: the
// bundle runs from the code cache the build wrote, and output reaches a pipe whole, in order,
// however the pipe behaves. The speed itself is measured in bench/cli.mjs, never here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, chunkRecorder, cliOk } from '../helpers/cli.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Runs the bin with stdout on a pipe of one page (4 KiB) that python3 reads only after
// `delay` seconds, or of which it reads `readBytes` and then closes. `nonblocking` sets
// O_NONBLOCK on the writing end, as a parent process sharing it may have done.
const PIPE_DRIVER = `
import fcntl, json, os, subprocess, sys, time
argv, nonblocking, delay, read_bytes = json.loads(sys.argv[1])
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe, full after one page
if nonblocking:
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
child = subprocess.Popen(argv, stdout=w, stderr=subprocess.PIPE)
os.close(w)
time.sleep(delay)
out = b''
if read_bytes is not None:
    out = os.read(r, read_bytes)
    os.close(r)
else:
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
err = child.stderr.read()
code = child.wait()
print(json.dumps({'code': code, 'out': out.decode('utf8', 'replace'), 'err': err.decode('utf8', 'replace')}))
`;

function throughPipe(args: string[], opts: { nonblocking?: boolean; delay?: number; readBytes?: number } = {}): { code: number; out: string; err: string } {
  const spec = [[process.execPath, BIN, ...args], opts.nonblocking ?? false, opts.delay ?? 0, opts.readBytes ?? null];
  const r = spawnSync('python3', ['-c', PIPE_DRIVER, JSON.stringify(spec)], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`python3 is needed to drive a pipe: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`the pipe driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { code: number; out: string; err: string };
}

let tmp: { dir: string; cleanup(): void };
let home: string;

beforeAll(() => {
  requireTools('qemu-img', 'qemu-io', 'python3');
  tmp = tempHome('bkstart');
  home = path.join(tmp.dir, 'home');
  makeQcow2(path.join(tmp.dir, 'seed.qcow2'), '16M');
  cliOk(home, ['image', 'import', path.join(tmp.dir, 'seed.qcow2'), '--name', 'seed']);
  cliOk(home, ['box', 'create', 'b', '--image', 'seed']);
  // Three long descriptions: a listing of several pages, more than the pipe holds.
  for (const n of [1, 2, 3]) cliOk(home, ['snapshot', 'create', 'b', `s${n}`, '--description', `${n}`.repeat(4000)]);
});

afterAll(() => tmp?.cleanup());

describe('the bundled CLI', () => {
  it('runs every chunk from a code cache the running Node accepts', async () => {
    const { cliLoader } = (await import(path.join(ROOT, 'bin', 'cli-loader.cjs'))) as { cliLoader(dir: string): { loadAll(): void; cacheMisses(): string[] } };
    const loader = cliLoader(path.join(ROOT, 'dist', 'cli'));
    loader.loadAll();
    expect(loader.cacheMisses()).toEqual([]);
  });
});

// Node's own modules a command loaded, in the order it loaded them (process.moduleLoadList),
// run as a user would: every stdio a pipe.
function builtinsLoaded(args: string[]): string[] {
  const out = path.join(tmp.dir, 'modules.json');
  const preload = path.join(tmp.dir, 'modules.cjs');
  fs.writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)));`);
  const r = spawnSync(process.execPath, ['-r', preload, BIN, '--home', home, ...args], { encoding: 'utf8', stdio: 'pipe' });
  expect([r.status, r.stderr]).toEqual([0, '']);
  return (JSON.parse(fs.readFileSync(out, 'utf8')) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
}

describe('what a command loads', () => {
  // Each of these cost a listing command milliseconds it has no use for (bench/cli.mjs): the ES
  // module loader (an .mjs entry), fs/promises (readline's interface, file watchers), node:net
  // and node:stream (a socket, a stream for stdout), child_process, crypto, tty, readline.
  const UNNEEDED = ['internal/modules/esm/module_job', 'fs/promises', 'net', 'stream', 'child_process', 'crypto', 'tty', 'readline'];

  it.each(['box list', 'snapshot list b', '--json box list'])('`boxkeep %s` with no owner loads none of Node\'s modules it does not use', (command) => {
    const loaded = builtinsLoaded(command.split(' '));
    expect(loaded).toContain('vm'); // the loader ran: the list is the command's
    expect(UNNEEDED.filter((m) => loaded.includes(m))).toEqual([]);
  });
});

// The bundle's chunks a command ran, read back.
function chunksRun(args: string[]): string[] {
  const recorder = chunkRecorder(tmp.dir);
  const r = spawnSync(process.execPath, [...recorder.node, BIN, '--home', home, ...args], { encoding: 'utf8', stdio: 'pipe' });
  expect([r.status, r.stderr]).toEqual([0, '']);
  return recorder.sources();
}

describe('what a listing command runs of the engine', () => {
  // With nobody owning the home and nothing to recover, a read-only command opens the home for
  // reading (electron/core/reader.ts): the engine (core.ts), its recovery and the router stay unloaded.
  const ENGINE = ['const openCore = ', 'function runRecovery(', 'function createRouter('];

  it.each(['box list', 'snapshot list b', 'image list', '--json box list'])('`boxkeep %s` with no owner runs none of the engine', (command) => {
    const sources = chunksRun(command.split(' '));
    expect(sources.length).toBeGreaterThan(1); // the loader ran: the list is the command's
    expect(ENGINE.filter((marker) => sources.some((src) => src.includes(marker)))).toEqual([]);
  });

  it('a command that changes the home runs the engine (the markers above are the engine\'s)', () => {
    const sources = chunksRun(['snapshot', 'create', 'b', 'marked']);
    expect(ENGINE.filter((marker) => sources.some((src) => src.includes(marker)))).toEqual(ENGINE);
  });
});

describe('output on a pipe', () => {
  const args = () => ['--home', home, '--json', 'snapshot', 'list', 'b'];

  it('arrives whole and in order when the pipe is full and non-blocking', () => {
    const expected = spawnSync(process.execPath, [BIN, ...args()], { encoding: 'utf8' }).stdout;
    expect(expected.length).toBeGreaterThan(12_000);
    const r = throughPipe(args(), { nonblocking: true, delay: 1 });
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toBe(expected);
  });

  it('ends the command quietly, exit 0, when the reader stops early', () => {
    const expected = spawnSync(process.execPath, [BIN, ...args()], { encoding: 'utf8' }).stdout;
    const r = throughPipe(args(), { readBytes: 10, delay: 0.5 });
    expect(r.out).toBe(expected.slice(0, 10));
    expect([r.code, r.err]).toEqual([0, '']);
  });
});
