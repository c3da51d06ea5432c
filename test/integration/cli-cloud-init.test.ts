// Cloud-init through the real CLI and a real guest: `box create --cloud-init` makes a seed and
// an ssh forward, `box show` prints the ssh line, the test guest (booted with
// boxkeep.cidata=print) finds the seed by its label on a CD-ROM and prints it, and the clear
// password is in no file of the home. Bad input names its flag and leaves nothing behind.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoxDetail } from '../../shared/types.js';
import { BIN, cliOk, cliSync } from '../helpers/cli.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { buildGuest, GUEST_APPEND, makeDataDisk, startAndAttach, type SerialDriver } from '../helpers/guest.js';
import { publicKey } from '../helpers/ssh-keys.js';

const PASSWORD = 'Clear-Text-Passw0rd-4711';
let tmp: { dir: string; cleanup(): void };
let home: string;
let serial: SerialDriver | null = null;
const keys = [publicKey('ssh-ed25519', 'ada@laptop'), publicKey('ssh-rsa', 'ada@desk')];
const ok = <T>(...args: string[]) => cliOk<T>(home, args);
const text = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Every file under the home (the DB, its WAL, journals, logs, the seed) that holds `needle`. */
function filesHolding(needle: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile() && fs.readFileSync(full).includes(needle)) found.push(full);
    }
  };
  walk(home);
  return found;
}

const homeFiles = () => fs.readdirSync(path.join(home, 'boxes')).sort();
const rowCount = () => {
  const db = new Database(path.join(home, 'boxkeep.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM boxes').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

beforeAll(() => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox', 'genisoimage', 'isoinfo', 'openssl');
  tmp = tempHome('bkci');
  home = path.join(tmp.dir, 'h');
  const g = buildGuest();
  const disk = makeDataDisk(path.join(tmp.dir, 'd.qcow2'), 32);
  ok('image', 'import', disk, '--name', 'cloud', '--kernel', g.kernel, '--initrd', g.initrd, '--append', `${GUEST_APPEND} boxkeep.cidata=print`);
  fs.writeFileSync(path.join(tmp.dir, 'password'), `${PASSWORD}\nnot this line\n`);
  fs.writeFileSync(path.join(tmp.dir, 'keys.pub'), `# my keys\n${keys[1]}\n`);
});

afterAll(() => {
  serial?.close();
  cliSync(home, ['box', 'stop', 'web', '--force']);
  tmp?.cleanup();
});

describe('cloud-init', () => {
  it('box create --cloud-init makes the seed and an ssh forward; box show prints the ssh line', () => {
    const created = text('box', 'create', 'web', '--image', 'cloud', '--memory', '128', '--cloud-init', '--user', 'ada',
      '--password-file', path.join(tmp.dir, 'password'), '--ssh-key', keys[0]!, '--ssh-key-file', path.join(tmp.dir, 'keys.pub'), '--hostname', 'web-1');
    expect(created.code, created.err).toBe(0);
    const box = ok<BoxDetail>('box', 'show', 'web');
    expect(box.cloudInit).toEqual({ user: 'ada', sshKeys: keys, hostname: 'web-1', password: true });
    expect(box.forwards).toEqual([{ hostAddress: '127.0.0.1', hostPort: expect.any(Number), guestPort: 22, protocol: 'tcp' }]);
    const port = box.forwards[0]!.hostPort;
    expect(created.out).toContain(`forwards 127.0.0.1:${port}:22/tcp`);
    const shown = text('box', 'show', 'web');
    expect(shown.out).toMatch(new RegExp(`^Forwards: +127\\.0\\.0\\.1:${port}:22/tcp$`, 'm'));
    expect(shown.out).toMatch(new RegExp(`^SSH: +ssh -p ${port} ada@127\\.0\\.0\\.1$`, 'm'));
    expect(shown.out).toMatch(/^Cloud-init: +user ada \(sudo\), 2 SSH keys, a password \(kept as a SHA-512 hash\), host name web-1/m);
    expect(fs.existsSync(path.join(home, 'boxes', box.id, 'seed.iso'))).toBe(true);
    expect(filesHolding(PASSWORD)).toEqual([]);
  });

  it('the guest finds the seed by its label, prints it at boot and reads the user, the keys and a SHA-512 hash; the clear password is nowhere in the home', async () => {
    const box = ok<BoxDetail>('box', 'show', 'web');
    const log = path.join(home, 'boxes', box.id, 'logs', 'serial.log');
    const started = await startAndAttach(() => ok('box', 'start', 'web'), path.join(home, 'boxes', box.id, 'run', 'serial.sock'), log);
    serial = started.serial;
    // What the guest printed at boot, between its markers. QEMU 7.2's chardev log repeats a byte
    // whenever its write to a connected console client meets EAGAIN (qemu_chr_write_buffer logs
    // the whole buffer on the failed write, the 16550 retries the byte and it is logged again);
    // what the client reads has each byte once. So the exact bytes are read through the console below.
    const printed = fs.readFileSync(log, 'utf8').replace(/\r\n/g, '\n');
    expect(printed, printed.slice(-2000)).toMatch(/BOXKEEP-CIDATA-BEGIN \/dev\/sr\d\n--- user-data\n#cloud-config\n[\s\S]*--- meta-data\n[\s\S]*BOXKEEP-CIDATA-END/);
    // The seed as the guest reads it from its CD-ROM, through the command loop.
    const inGuest = async (cmd: string) => {
      const r = await serial!.run(cmd, 20_000);
      expect(r.status, r.output).toBe(0);
      // The loop's marker follows the output's last newline, which it keeps for itself.
      return r.output.endsWith('\n') ? r.output : `${r.output}\n`;
    };
    const userData = await inGuest('cat /cidata/user-data');
    const metaData = await inGuest('cat /cidata/meta-data');
    expect(await inGuest('grep " /cidata " /proc/mounts')).toMatch(/^\/dev\/sr\d \/cidata iso9660 ro[, ]/);
    expect(userData).toMatch(/^#cloud-config\n/);
    expect(userData).toContain('  - name: "ada"\n');
    expect(userData).toContain('    sudo: "ALL=(ALL) NOPASSWD:ALL"\n');
    for (const key of keys) expect(userData).toContain(`      - "${key}"\n`);
    expect(userData).toMatch(/    hashed_passwd: "\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}"\n/);
    expect(userData).toContain('hostname: "web-1"');
    expect(metaData.trim()).toBe(`instance-id: "${box.id}"\nlocal-hostname: "web-1"`);
    expect(userData).not.toContain(PASSWORD);
    // Byte for byte what the host wrote into the seed (read back with isoinfo).
    const seedFile = path.join(home, 'boxes', box.id, 'seed.iso');
    expect(userData.trim()).toBe(spawnSync('isoinfo', ['-i', seedFile, '-R', '-x', '/user-data'], { encoding: 'utf8' }).stdout.trim());
    expect(printed).not.toContain('not this line');
    expect(filesHolding(PASSWORD)).toEqual([]);
    // The seed's CD-ROM nodes stand beside the disk chain: a live snapshot still works.
    expect(ok<{ live: boolean }>('snapshot', 'create', 'web', 'running').live).toBe(true);
    expect((await serial.run('echo still-here', 20_000)).output).toContain('still-here');
    serial.close();
    serial = null;
    ok('box', 'stop', 'web', '--force');
    expect(filesHolding(PASSWORD)).toEqual([]);
  });

  it('refuses bad cloud-init input naming the flag, and leaves no box row and no folder', () => {
    const empty = path.join(tmp.dir, 'empty');
    fs.writeFileSync(empty, '');
    const big = path.join(tmp.dir, 'big');
    fs.writeFileSync(big, 'x'.repeat(70 * 1024));
    const noKeys = path.join(tmp.dir, 'nokeys');
    fs.writeFileSync(noKeys, '# nothing\n\n');
    const cases: Array<[string[], RegExp]> = [
      [['--cloud-init'], /--cloud-init needs --user NAME/],
      [['--user', 'ada'], /--user goes with --cloud-init/],
      [['--cloud-init', '--user', 'Root'], /--user "Root" is not a Linux user name/],
      [['--cloud-init', '--user', 'root'], /--user "root" is a system account/],
      [['--cloud-init', '--user', 'ada', '--hostname', 'bad_host'], /--hostname "bad_host" is not a host name/],
      [['--cloud-init', '--user', 'ada', '--hostname', '-x'], /--hostname "-x" is not a host name/],
      [['--cloud-init', '--user', 'ada', '--ssh-key', 'ssh-ed25519 nothing-here'], /--ssh-key "ssh-ed25519 nothing-here" is not an SSH public key: the part after ssh-ed25519 is not base64/],
      [['--cloud-init', '--user', 'ada', '--ssh-key', 'hello world'], /--ssh-key "hello world" is not an SSH public key/],
      [['--cloud-init', '--user', 'ada', '--ssh-key', publicKey('ssh-rsa', 'x', 'ssh-ed25519')], /is not a valid ssh-rsa key/],
      [['--cloud-init', '--user', 'ada', '--ssh-key-file', noKeys], /--ssh-key-file .* holds no key/],
      [['--cloud-init', '--user', 'ada', '--ssh-key-file', path.join(tmp.dir, 'missing.pub')], /--ssh-key-file .* cannot be read \(ENOENT\)/],
      [['--cloud-init', '--user', 'ada', '--password-file', path.join(tmp.dir, 'missing')], /--password-file .* cannot be read \(ENOENT\)/],
      [['--cloud-init', '--user', 'ada', '--password-file', empty], /--password-file .* is empty/],
      [['--cloud-init', '--user', 'ada', '--password-file', big], /--password-file .* is 71680 bytes long; at most 65536/],
      [['--cloud-init', '--user', 'ada', '--password-file', tmp.dir], /--password-file .* is not a file/],
    ];
    const before = { rows: rowCount(), dirs: homeFiles() };
    for (const [flags, message] of cases) {
      const r = cliSync(home, ['box', 'create', 'bad', '--image', 'cloud', ...flags]);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(JSON.parse(r.err).error.message, flags.join(' ')).toMatch(message);
    }
    expect({ rows: rowCount(), dirs: homeFiles() }).toEqual(before);
    expect(fs.readdirSync(path.join(home, 'journal'))).toEqual([]);
  });
});
