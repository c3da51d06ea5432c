// The real `boxkeep` bin (built by test/setup/build.ts) against real qemu-img on a temp home:
// what a user or a script sees on stdout, stderr and in the exit code.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../electron/cli/main.js';
import type { Box, BoxDetail, Image, RemoveSnapshotResult, RestoreResult, Snapshot, SnapshotTree } from '../../shared/types.js';
import { backingOf, makeQcow2, readPattern, requireTools, tempHome, writePattern } from '../helpers/disk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'boxkeep.cjs');
const MiB = 1024 * 1024;

let tmp: { dir: string; cleanup(): void };
let home: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function boxkeep(args: string[], opts: { json?: boolean; cwd?: string; env?: NodeJS.ProcessEnv; noHome?: boolean } = {}): Run {
  const argv = [BIN, ...(opts.noHome ? [] : ['--home', home]), ...(opts.json === false ? [] : ['--json']), ...args];
  const r = spawnSync(process.execPath, argv, { cwd: opts.cwd ?? ROOT, encoding: 'utf8', timeout: 60_000, env: opts.env ?? process.env });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** --json and success expected: the parsed stdout, with nothing on stderr. */
function ok<T>(args: string[], cwd?: string): T {
  const r = boxkeep(args, { cwd });
  if (r.code !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}

/** --json and failure expected: the exit code and the {"error"} object from stderr; stdout stays empty. */
function fails(...args: string[]): { code: number | null; error: { code: string; message: string } } {
  const r = boxkeep(args);
  expect(r.code, `boxkeep ${args.join(' ')} should fail`).not.toBe(0);
  expect(r.stdout).toBe('');
  return { code: r.code, error: (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error };
}

const human = (...args: string[]) => boxkeep(args, { json: false });

/** main() in this process, with a terminal-like or pipe-like stderr. */
async function inProcess(argv: string[], opts: { tty?: boolean; cwd?: string } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { ...process.env, BOXKEEP_HOME: undefined }, {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    stderrIsTTY: opts.tty ?? false,
    stderrColumns: opts.tty ? 100 : undefined,
    cwd: opts.cwd ?? ROOT,
    now: () => Date.now(),
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

beforeAll(() => {
  requireTools('qemu-img', 'qemu-io');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.cjs'))) {
    throw new Error('dist/cli/main.cjs is missing: run through vitest (test/setup/build.ts builds it) or run `npm run build:node`.');
  }
  tmp = tempHome('bkcli');
  home = path.join(tmp.dir, 'home');
  makeQcow2(path.join(tmp.dir, 'seed.qcow2'), 32 * MiB);
  writePattern(path.join(tmp.dir, 'seed.qcow2'), 0, MiB, 0x11);
});

afterAll(() => tmp?.cleanup());

// One box's life, in order: each step builds on the state the previous one left.
describe('boxkeep drives a box through its snapshot life with --json', () => {
  let image: Image;
  let box: Box;
  let one: Snapshot;
  let auto: Snapshot;
  const live = () => box.liveDiskPath;
  const at1M = (file: string, byte: number) => readPattern(file, MiB, MiB, byte);

  it('imports an image named by a path relative to where the command runs', () => {
    image = ok<Image>(['image', 'import', 'seed.qcow2', '--name', 'seed'], tmp.dir);
    expect(image).toMatchObject({ name: 'seed', format: 'qcow2', virtualSize: 32 * MiB, kernelPath: null });
    expect(image.id).toMatch(/^[0-9a-f]{12}$/);
    expect(image.path.startsWith(home + path.sep)).toBe(true);
    expect(readPattern(image.path, 0, MiB, 0x11)).toBe(true);
    expect(ok<Image[]>(['image', 'list']).map((i) => i.name)).toEqual(['seed']);
  });

  it('creates a box whose live disk backs onto the image', () => {
    box = ok<Box>(['box', 'create', 'web', '--image', 'seed', '--memory', '128', '--cpus', '2']);
    expect(box).toMatchObject({ name: 'web', imageId: image.id, status: 'configured', cpus: 2, memoryMib: 128, diskSize: 32 * MiB, currentSnapshotId: null });
    expect(backingOf(live())).toBe(image.path);
    expect(ok<Box[]>(['box', 'list']).map((b) => b.id)).toEqual([box.id]);
  });

  it('takes a named snapshot that freezes what the disk held', () => {
    writePattern(live(), MiB, MiB, 0x22);
    one = ok<Snapshot>(['snapshot', 'create', 'web', 'one', '--description', 'first']);
    expect(one).toMatchObject({ boxId: box.id, parentId: null, name: 'one', description: 'first', live: false, taken: 'stopped' });
    expect(at1M(one.diskPath, 0x22)).toBe(true);
    expect(backingOf(live())).toBe(one.diskPath);
  });

  it('names a snapshot taken without a name after the time', () => {
    writePattern(live(), MiB, MiB, 0x33);
    auto = ok<Snapshot>(['snapshot', 'create', 'web']);
    expect(auto.name).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(auto.parentId).toBe(one.id);
  });

  it('lists the tree and shows one snapshot by name or id, exactly as the engine returns them', () => {
    const tree = ok<SnapshotTree>(['snapshot', 'list', 'web']);
    expect(tree).toEqual({ boxId: box.id, currentId: auto.id, snapshots: [expect.objectContaining({ id: one.id }), expect.objectContaining({ id: auto.id })] });
    expect(ok<Snapshot>(['snapshot', 'show', 'web', 'one'])).toEqual(tree.snapshots[0]);
    expect(ok<Snapshot>(['snapshot', 'show', box.id, one.id])).toEqual(tree.snapshots[0]);
  });

  it('renames a snapshot and changes its description', () => {
    one = ok<Snapshot>(['snapshot', 'update', 'web', 'one', '--name', 'base', '--description', 'clean install']);
    expect(one).toMatchObject({ name: 'base', description: 'clean install' });
    expect(ok<Snapshot>(['snapshot', 'show', 'web', 'base']).id).toBe(one.id);
  });

  it('restores a snapshot, saving the state before it when asked', () => {
    writePattern(live(), MiB, MiB, 0x44);
    const r = ok<RestoreResult>(['snapshot', 'restore', 'web', 'base', '--snapshot-current-first']);
    expect(r.box.currentSnapshotId).toBe(one.id);
    expect(r.snapshot.id).toBe(one.id);
    expect(r.savedSnapshot).not.toBeNull();
    expect(at1M(r.savedSnapshot!.diskPath, 0x44)).toBe(true);
    expect(at1M(live(), 0x22)).toBe(true);
  });

  it('shows the box with its live disk and the chain down to the image', () => {
    const d = ok<BoxDetail>(['box', 'show', 'web']);
    expect(d.liveDiskPath).toBe(live());
    expect(d.chain.map((l) => l.kind)).toEqual(['live', 'snapshot', 'image']);
    expect(d.chain.map((l) => l.path)).toEqual([live(), one.diskPath, image.path]);
    expect(d.snapshotCount).toBe(3);
  });

  it('prints the drawn tree, tables and humanized sizes for people', () => {
    const list = human('snapshot', 'list', 'web');
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SNAPSHOT +ID +SIZE +TAKEN +DESCRIPTION$/);
    expect(lines[1]).toBe('◇ seed (image)');
    expect(lines[2]).toMatch(new RegExp(`^● base +${one.id} +\\d+(\\.\\d)? (KiB|MiB) +(just now|\\d+ seconds ago) +clean install$`));
    expect(lines[3]).toMatch(/^├─● \d{4}-\d\d-\d\d \d\d:\d\d:\d\d /);
    expect(lines[4]).toMatch(/^│ ● \d{4}-/);
    expect(lines[5]).toMatch(/^○ Now +the live disk$/);
    expect(lines).toHaveLength(6);

    const boxes = human('box', 'list').stdout.split('\n');
    expect(boxes[0]).toMatch(/^ID +NAME +STATUS +CPUS +MEMORY +DISK +CREATED$/);
    expect(boxes[1]).toMatch(new RegExp(`^${box.id} +web +configured +2 +128 MiB +32 MiB +(just now|\\d+ seconds ago)$`));
    const show = human('box', 'show', 'web').stdout;
    // The keys are padded to the longest one shown (AutoProtect): the path follows the padding.
    expect(show).toMatch(new RegExp(`Live disk: +${live().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    expect(show).toMatch(/Snapshots: +3; now after "base"/);
    expect(human('snapshot', 'create', 'web', 'later').stdout).toMatch(/^Took snapshot "later" \([0-9a-f]{12}\)\.\n$/);
  });

  it('removes a snapshot others depend on without changing them', () => {
    const before = ok<SnapshotTree>(['snapshot', 'list', 'web']);
    const r = ok<RemoveSnapshotResult>(['snapshot', 'remove', 'web', 'base']);
    expect(r.removedId).toBe(one.id);
    expect(r.reparentedIds.sort()).toEqual(before.snapshots.filter((s) => s.parentId === one.id).map((s) => s.id).sort());
    const after = ok<SnapshotTree>(['snapshot', 'list', 'web']);
    expect(after.snapshots.map((s) => s.id)).not.toContain(one.id);
    expect(at1M(after.snapshots.find((s) => s.id === auto.id)!.diskPath, 0x33)).toBe(true);
    expect(fs.existsSync(one.diskPath)).toBe(false);
  });
});

describe('boxkeep exit codes and errors', () => {
  it('2: a bad snapshot name, with the broken rule in the message', () => {
    const { code, error } = fails('snapshot', 'create', 'web', 'a/b');
    expect(code).toBe(2);
    expect(error).toEqual({ code: 'InvalidArgument', message: 'The snapshot name "a/b" contains "/"; slashes are not allowed.' });
    const h = human('snapshot', 'create', 'web', 'a/b');
    expect([h.code, h.stdout, h.stderr]).toEqual([2, '', 'boxkeep: The snapshot name "a/b" contains "/"; slashes are not allowed.\n']);
  });

  it('2: a value the contract refuses names the flag the user typed, never the internal field', () => {
    expect(fails('box', 'create', 'x', '--image', 'y', '--memory', '5')).toEqual({ code: 2, error: { code: 'InvalidArgument', message: '--memory must be at least 16 MiB.' } });
    expect(human('box', 'create', 'x', '--image', 'y', '--memory', '5').stderr).toBe('boxkeep: --memory must be at least 16 MiB.\n');
    expect(fails('box', 'create', 'x', '--image', 'y', '--disk-size', '0').error.message).toBe('--disk-size must be at least 1 GiB.');
    expect(fails('box', 'console', 'web', '--lines', '0').error.message).toBe('--lines must be at least 1.');
    expect(fails('snapshot', 'create', 'web', 'ok', '--description', 'see \u202Ehere').error.message).toBe(
      '--description contains U+202E RIGHT-TO-LEFT OVERRIDE, an invisible formatting character; it would reorder the text around it. Remove it.',
    );
    expect(fails('snapshot', 'update', 'web', 'later', '--name', 'a\u200Bb').error.message).toBe(
      '--name: The snapshot name "a\\u200Bb" contains U+200B ZERO WIDTH SPACE, an invisible formatting character; remove it.',
    );
    for (const r of [human('box', 'create', 'x', '--image', 'y', '--memory', '5'), human('box', 'console', 'web', '--lines', '0')]) {
      expect(r.stderr).not.toMatch(/memoryMib|lines:/);
    }
    expect(ok<Box[]>(['box', 'list']).map((b) => b.name)).toEqual(['web']);
  });

  it('2: image import refuses a qcow2 whose table sizes are absurd, naming the header field; nothing is kept', () => {
    const before = ok<Image[]>(['image', 'list']);
    const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
      ['l1-huge', (b) => b.writeUInt32BE(0x7fffffff, 36), /L1 table size \(l1_size\) is 2147483647 entries; QEMU allows at most 4194304/],
      ['l1-small', (b) => b.writeUInt32BE(0, 36), /L1 table size \(l1_size\) is 0 entries, too few for the virtual size of 33554432 bytes/],
      ['l1-far', (b) => b.writeBigUInt64BE(1n << 40n, 40), /L1 table \(l1_table_offset 1099511627776, 8 bytes\) runs past the end of the file/],
      ['rt-huge', (b) => b.writeUInt32BE(0xffffff, 56), /refcount table size \(refcount_table_clusters\) is 16777215 clusters; QEMU allows at most 128/],
    ];
    for (const [name, mutate, problem] of cases) {
      const file = path.join(tmp.dir, `${name}.qcow2`);
      makeQcow2(file, 32 * MiB);
      const bytes = fs.readFileSync(file);
      mutate(bytes);
      fs.writeFileSync(file, bytes);
      const { code, error } = fails('image', 'import', file, '--name', name);
      expect([code, error.code], `${name}: ${error.message}`).toEqual([2, 'InvalidArgument']);
      expect(error.message).toMatch(problem);
      expect(error.message).toContain(file);
    }
    expect(ok<Image[]>(['image', 'list'])).toEqual(before);
  });

  it('3: a snapshot that does not exist', () => {
    const { code, error } = fails('snapshot', 'show', 'web', 'nope');
    expect([code, error.code]).toEqual([3, 'NotFound']);
    expect(error.message).toContain('"nope"');
    expect(human('box', 'show', 'ghost').stderr).toMatch(/^boxkeep: No box is called "ghost"\..*\n$/);
  });

  it('4: a duplicate name', () => {
    const { code, error } = fails('snapshot', 'create', 'web', 'later');
    expect([code, error.code]).toEqual([4, 'AlreadyExists']);
    expect(fails('box', 'create', 'web', '--image', 'seed').code).toBe(4);
  });

  it('5: removing an image a box still uses; it goes once the box is gone', () => {
    const { code, error } = fails('image', 'remove', 'seed');
    expect([code, error.code]).toEqual([5, 'InvalidState']);
    expect(error.message).toContain('"web"');
    const removed = ok<{ removedId: string; freedBytes: number }>(['box', 'remove', 'web']);
    expect(removed.freedBytes).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(home, 'boxes', removed.removedId))).toBe(false);
    expect(ok<{ removedId: string }>(['image', 'remove', 'seed']).removedId).toMatch(/^[0-9a-f]{12}$/);
    expect(ok<Image[]>(['image', 'list'])).toEqual([]);
  });

  it('2: unknown commands and flags, missing values, bad numbers and extra words, each with the usage line', async () => {
    const cases: [string[], RegExp, string][] = [
      [['frobnicate'], /^Unknown command "frobnicate"/, 'boxkeep [--home DIR] [--json] <command>'],
      [['snapshto', 'list', 'web'], /did you mean "snapshot"/, 'boxkeep [--home DIR] [--json] <command>'],
      [['box', 'list', '--frob'], /^Unknown option "--frob"\.$/, 'boxkeep box list'],
      [['box', 'create', 'x', '--image'], /^The option --image needs a value/, 'boxkeep box create <name> --image <image> [--disk-size GiB] [--memory MiB] [--cpus N]'],
      [['box', 'create', 'x', '--image', 'seed', '--disk-size', 'big'], /^--disk-size must be a whole number, not "big"\.$/, 'boxkeep box create'],
      [['snapshot', 'show', 'web', 'one', 'two'], /^Unexpected argument "two"/, 'boxkeep snapshot show <box> <snapshot>'],
      [['snapshot', 'update', 'web', 'one'], /^Nothing to change/, 'boxkeep snapshot update <box> <snapshot>'],
      [['snapshot'], /^"snapshot" needs a command: create, list/, 'boxkeep snapshot <command>'],
    ];
    // In-process: the same main() the bin runs, without paying a process start per case.
    for (const [args, problem, usage] of cases) {
      const j = await inProcess(['--home', home, '--json', ...args]);
      expect([j.code, j.stdout], args.join(' ')).toEqual([2, '']);
      const error = (JSON.parse(j.stderr) as { error: { code: string; message: string } }).error;
      expect(error.code, args.join(' ')).toBe('InvalidArgument');
      expect(error.message, args.join(' ')).toContain(`Usage: ${usage}`);
      const h = await inProcess(['--home', home, ...args]);
      const [first, second, rest] = h.stderr.split('\n');
      expect(first.replace(/^boxkeep: /, ''), args.join(' ')).toMatch(problem);
      expect(second.startsWith(`usage: ${usage}`), args.join(' ')).toBe(true);
      expect([h.code, h.stdout, rest]).toEqual([2, '', '']);
    }
  });

  it('exits 2 from the bin too, and creates no home for a command line it refuses', () => {
    const fresh = path.join(tmp.dir, 'untouched');
    const r = spawnSync(process.execPath, [BIN, '--home', fresh, 'box', 'list', '--frob'], { encoding: 'utf8' });
    expect([r.status, r.stdout, r.stderr]).toEqual([2, '', 'boxkeep: Unknown option "--frob".\nusage: boxkeep box list\n']);
    expect(fs.existsSync(fresh)).toBe(false);
  });
});

describe('boxkeep around the commands', () => {
  it('recover reports a consistent home, and debug crash-points lists the points', () => {
    expect(ok<{ items: unknown[] }>(['recover']).items).toEqual([]);
    expect(human('recover').stdout).toMatch(/^Nothing to recover: the home is consistent/);
    const points = ok<string[]>(['debug', 'crash-points']);
    expect(points).toContain('snapshot-create:after-intent');
    expect(points).toContain('snapshot-remove:after-merge');
  });

  it('after a crash mid-snapshot, tells what recovery did: `recover` lists it, any other command mentions it', () => {
    const own = tempHome('bkcr');
    try {
      const at = (args: string[], opts: { json?: boolean; crash?: string } = {}) =>
        spawnSync(process.execPath, [BIN, '--home', path.join(own.dir, 'h'), ...(opts.json === false ? [] : ['--json']), ...args], {
          cwd: tmp.dir, encoding: 'utf8', env: { ...process.env, ...(opts.crash ? { BOXKEEP_CRASH_AT: opts.crash } : {}) },
        });
      expect(at(['image', 'import', 'seed.qcow2']).status).toBe(0);
      expect(at(['box', 'create', 'c', '--image', 'seed']).status).toBe(0);
      const crashed = at(['snapshot', 'create', 'c', 'x'], { crash: 'snapshot-create:after-freeze' });
      expect(crashed.signal).toBe('SIGKILL');
      const report = JSON.parse(at(['recover']).stdout) as { items: { level: string; message: string }[] };
      expect(report.items).toEqual([expect.objectContaining({ level: 'repaired', message: expect.stringContaining('"x"') })]);

      at(['snapshot', 'create', 'c', 'y'], { crash: 'snapshot-create:after-freeze' });
      const list = at(['snapshot', 'list', 'c'], { json: false });
      expect(list.status).toBe(0);
      expect(list.stderr).toMatch(/^boxkeep: recovery repaired: .*"y".*\n$/);
      expect(list.stdout).toContain('No snapshots yet.');
    } finally {
      own.cleanup();
    }
  });

  it('uses BOXKEEP_HOME when --home is not given', () => {
    const other = path.join(tmp.dir, 'from-env');
    const r = boxkeep(['info'], { noHome: true, env: { ...process.env, BOXKEEP_HOME: other } });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { home: string }).home).toBe(other);
  });

  it('info finds QEMU before any box has run, and says when the accelerator gets decided', () => {
    requireTools('qemu-system-x86_64');
    const version = /version (\d+\.\d+(?:\.\d+)?)/.exec(spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout)![1]!;
    const fresh = path.join(tmp.dir, 'fresh-info');
    const json = boxkeep(['info'], { noHome: true, env: { ...process.env, BOXKEEP_HOME: fresh } });
    // Unknown until a start decides, unless this host cannot have KVM at all (then TCG, known now).
    const first = (JSON.parse(json.stdout) as { qemuVersion: string; accelerator: string });
    expect(first.qemuVersion).toBe(version);
    expect(['unknown', 'tcg']).toContain(first.accelerator);
    const text = boxkeep(['--home', fresh, 'info'], { noHome: true, json: false });
    expect(text.stdout).toMatch(new RegExp(`^QEMU: +${version.replace(/\./g, '\\.')}$`, 'm'));
    expect(text.stdout).toMatch(first.accelerator === 'unknown' ? /^Accelerator: +decided when the first box starts/m : /^Accelerator: +tcg$/m);
    // Once a start has decided on this boot with this QEMU (its verdict kept in the home), info says
    // so from any process, not only the one that started the box.
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    fs.writeFileSync(path.join(fresh, 'accel.json'), JSON.stringify({ key: `${bootId}|qemu-${version}`, accel: 'kvm', reason: 'test', decidedAt: 1 }));
    const known = JSON.parse(boxkeep(['info'], { noHome: true, env: { ...process.env, BOXKEEP_HOME: fresh } }).stdout) as { accelerator: string };
    expect(known.accelerator).toBe(first.accelerator === 'unknown' ? 'kvm' : 'tcg');
    fs.rmSync(path.join(fresh, 'accel.json'));
    // Without QEMU on the PATH it says so, and how to install it.
    const bare = boxkeep(['--home', fresh, 'info'], { noHome: true, json: false, env: { ...process.env, PATH: '/nonexistent' } });
    expect(bare.stdout).toMatch(/^QEMU: +not found \(install qemu-system-x86/m);
  });

  it('prints help for every command, and for the whole CLI', () => {
    const all = human('--help');
    expect(all.code).toBe(0);
    for (const usage of ['image import <file>', 'box create <name> --image <image>', 'snapshot restore <box> <snapshot>', 'recover', 'debug crash-points']) {
      expect(all.stdout).toContain(`boxkeep ${usage}`);
    }
    const one = human('help', 'snapshot', 'restore');
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^Usage: boxkeep snapshot restore <box> <snapshot> \[--snapshot-current-first\] \[--discard-current\] \[--stop-first\] \[--start-after\] \[--disk-only\]\n/);
    expect(human('box', 'stop', '--help').stdout).toMatch(/^Usage: boxkeep box stop <box> \[--force\]/);
    expect(human('help', 'nothing').code).toBe(2);
  });

  it('draws progress on a terminal stderr as one redrawn line, and never with --json', async () => {
    makeQcow2(path.join(tmp.dir, 'big.qcow2'), 64 * MiB);
    writePattern(path.join(tmp.dir, 'big.qcow2'), 0, 48 * MiB, 0x5a);
    const r = await inProcess(['--home', home, 'image', 'import', 'big.qcow2', '--name', 'big'], { tty: true, cwd: tmp.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Imported disk image "big" \([0-9a-f]{12}\): 64 MiB virtual, \d+ MiB on disk\.\n$/);
    const redraws = r.stderr.split('\r\x1b[K').filter(Boolean);
    expect(redraws.length).toBeGreaterThan(0);
    for (const line of redraws) expect(line).toMatch(/^Importing big \[[█░]{20}\] \d{1,3}%$/);
    // The line is wiped before the result is printed: nothing is left half-drawn.
    expect(r.stderr.endsWith('\r\x1b[K')).toBe(true);

    const j = await inProcess(['--home', home, '--json', 'image', 'import', 'big.qcow2', '--name', 'big2'], { tty: true, cwd: tmp.dir });
    expect([j.code, j.stderr]).toEqual([0, '']);
    expect((JSON.parse(j.stdout) as Image).name).toBe('big2');
  });

  it('says to build when dist/ is missing', () => {
    const copy = path.join(tmp.dir, 'unbuilt', 'bin');
    fs.cpSync(path.dirname(BIN), copy, { recursive: true });
    const r = spawnSync(process.execPath, [path.join(copy, 'boxkeep.cjs'), 'box', 'list'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^boxkeep: not built yet: run `npm run build` in .*unbuilt\/ first\.\n$/);
  });
});

describe('names that commands could mistake for something else', () => {
  it('a name of an id\'s form, or with white space at an end, is refused before anything is made; a removal names the box it removed', () => {
    ok<Image>(['image', 'import', 'seed.qcow2', '--name', 'names-seed'], tmp.dir);
    const first = ok<Box>(['box', 'create', 'named-a', '--image', 'names-seed']);
    const journal = path.join(home, 'journal');
    const boxesBefore = ok<Box[]>(['box', 'list']).map((b) => b.id).sort();
    // Its id as another box's name: every command would then act on the first box.
    const asId = fails('box', 'create', first.id, '--image', 'names-seed');
    expect(asId.error).toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining(`The box name "${first.id}" has the form of an id (12 hex digits)`) });
    expect(fails('box', 'create', ' lead', '--image', 'names-seed').error.message).toContain('The box name " lead" starts or ends with white space');
    expect(fails('box', 'rename', 'named-a', 'abcdef012345').error.message).toContain('has the form of an id');
    expect(fails('snapshot', 'create', 'named-a', '0123456789ab').error.message).toContain('The snapshot name "0123456789ab" has the form of an id');
    for (const now of ['Now', 'now', 'NOW']) expect(fails('snapshot', 'create', 'named-a', now).error.message).toContain(`The snapshot name "${now}" is what Boxkeep calls the live disk`);
    expect(ok<Box[]>(['box', 'list']).map((b) => b.id).sort()).toEqual(boxesBefore);
    expect(fs.existsSync(journal) ? fs.readdirSync(journal) : []).toEqual([]);
    expect(ok<BoxDetail>(['box', 'show', 'named-a']).snapshotCount).toBe(0);
    // A name taken from the file is always one the rules take.
    fs.copyFileSync(path.join(tmp.dir, 'seed.qcow2'), path.join(tmp.dir, 'abcdefabcdef.qcow2'));
    fs.copyFileSync(path.join(tmp.dir, 'seed.qcow2'), path.join(tmp.dir, ' spaced .qcow2'));
    expect(ok<Image>(['image', 'import', 'abcdefabcdef.qcow2'], tmp.dir).name).toBe('abcdefabcdef-image');
    expect(ok<Image>(['image', 'import', ' spaced .qcow2'], tmp.dir).name).toBe('spaced');
    // A name one character off an id is a name.
    const near = ok<Box>(['box', 'create', `${first.id}x`, '--image', 'names-seed']);
    expect(near.name).toBe(`${first.id}x`);
    const removed = human('box', 'remove', first.id);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`Removed box "named-a" (${first.id}) and its snapshots`);
    expect(ok<Box[]>(['box', 'list']).map((b) => b.name)).toContain(`${first.id}x`);
    expect(ok<Box[]>(['box', 'list']).map((b) => b.name)).not.toContain('named-a');
  });
});

describe('a home that cannot be one', () => {
  it('--home naming a file, or a path through a file, is refused in words, and the file is left as it was', () => {
    const file = path.join(tmp.dir, 'not-a-home.qcow2');
    fs.writeFileSync(file, 'user data');
    for (const [at, why] of [[file, 'a file is there'], [path.join(file, 'inner'), 'a file is in its path']] as const) {
      const r = boxkeep(['--home', at, '--json', 'box', 'list'], { noHome: true });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'InvalidArgument', message: `The Boxkeep home ${at} is not a folder (${why}); pick another with --home or BOXKEEP_HOME.` });
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('user data');
  });

  it('a home whose database is empty or gone while it holds boxes is not opened as a new one: nothing is moved to orphans/', () => {
    const lost = path.join(tmp.dir, 'lost-db-home');
    const at = (...args: string[]) => boxkeep(['--home', lost, '--json', ...args], { noHome: true });
    expect(at('image', 'import', path.join(tmp.dir, 'seed.qcow2'), '--name', 'lost-seed').code).toBe(0);
    const box = JSON.parse(at('box', 'create', 'kept', '--image', 'lost-seed').stdout) as Box;
    const db = path.join(lost, 'boxkeep.db');
    const folders = () => ['boxes', 'images'].flatMap((d) => fs.readdirSync(path.join(lost, d)).map((n) => `${d}/${n}`)).sort();
    const before = folders();
    for (const damage of ['empty', 'missing'] as const) {
      for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
      if (damage === 'empty') fs.writeFileSync(db, '');
      for (const command of [['box', 'list'], ['recover']]) {
        const r = at(...command);
        expect(r.code, `${command.join(' ')} with the database ${damage}`).not.toBe(0);
        expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'Storage', message: expect.stringContaining(`holds 1 box folder and 1 image folder, but its database (${db}) is ${damage}. Boxkeep did not open it`) });
      }
      expect(folders()).toEqual(before);
      expect(fs.existsSync(path.join(lost, 'orphans')) ? fs.readdirSync(path.join(lost, 'orphans')) : []).toEqual([]);
      expect(fs.existsSync(path.join(lost, 'boxes', box.id, 'disks'))).toBe(true);
    }
  });
});
