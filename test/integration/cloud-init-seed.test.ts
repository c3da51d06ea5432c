// The NoCloud seed and the password hash, read back with tools of their own: isoinfo (from
// genisoimage's package) lists the volume and extracts its files, Python's crypt checks the
// hash against the password.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../electron/core/cloudinit/password.js';
import { metaData, userData, writeSeed } from '../../electron/core/cloudinit/seed.js';
import type { CloudInitRecord } from '../../electron/core/store/store.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';
import { openCore, type Core } from '../../electron/core/core.js';
import { seedFor } from '../../electron/core/vm/seed.js';
import { passwordProblem, sshKeyProblem } from '../../shared/cloud-init.js';
import { publicKey } from '../helpers/ssh-keys.js';

let tmp: { dir: string; cleanup(): void };
beforeAll(() => {
  requireTools('genisoimage', 'isoinfo', 'openssl', 'python3');
  tmp = tempHome('bkseed');
});
afterAll(() => tmp?.cleanup());

const isoinfo = (iso: string, ...args: string[]) => {
  const r = spawnSync('isoinfo', ['-i', iso, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`isoinfo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
/** A file of the seed by its Rock Ridge name. */
const extract = (iso: string, name: string) => isoinfo(iso, '-R', '-x', `/${name}`);

function cryptMatches(password: string, hash: string): boolean {
  const r = spawnSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; p,h=sys.stdin.read().split("\\n")[:2]; print(crypt.crypt(p,h)==h)'], { input: `${password}\n${hash}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 crypt: ${r.stderr}`);
  return r.stdout.trim() === 'True';
}

describe('the password hash', () => {
  it('is SHA-512 crypt of exactly the password, with a fresh salt each time', async () => {
    const password = '  correct horse battery stäple ';
    const a = await hashPassword(password);
    const b = await hashPassword(password);
    expect(a).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(a).not.toBe(b);
    expect(cryptMatches(password, a)).toBe(true);
    expect(cryptMatches(password.trim(), a)).toBe(false);
    expect(a).not.toContain('horse');
  });

  it('hashes a password of the longest length the rules take, whole (openssl passwd cuts at 256 bytes)', async () => {
    const longest = 'ä'.repeat(127) + 'xy';
    expect(passwordProblem(longest)).toBeNull();
    expect(cryptMatches(longest, await hashPassword(longest))).toBe(true);
    // One byte more is refused before it reaches openssl, whose hash would be of a cut password.
    await expect(hashPassword(longest + 'z')).rejects.toThrow(/257 bytes long/);
  });
});

/** A YAML document as PyYAML (what cloud-init uses: YAML 1.1, safe_load) reads it, back as JSON. */
function yamlAsCloudInit(text: string): unknown {
  const r = spawnSync('python3', ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin.buffer.read().decode("utf-8"))))'], { input: text });
  if (r.status !== 0) throw new Error(`PyYAML refused the document: ${r.stderr.toString().trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.toString());
}

describe('user-data and meta-data read by a YAML parser', () => {
  it('give back every value exactly, whatever a key comment holds that the rules take', () => {
    const comments = ['ada@laptop: "x" # y', 'tab\there', 'büro ☃ 😀', 'nbsp\u00a0ideo\u3000graphic', "it's \\ ok"];
    for (const comment of comments) expect(sshKeyProblem(publicKey('ssh-ed25519', comment)), comment).toBeNull();
    // And what the rules refuse, should a record hold it: raw in a YAML stream, U+FFFF is refused by
    // PyYAML ("special characters are not allowed": cloud-init then makes no user at all) and
    // U+2028/U+2029/U+0085 are line breaks, folded into a space.
    const refused = ['end\uffff', 'ls\u2028ps\u2029nel\u0085'];
    const sshKeys = [...comments, ...refused].map((c) => publicKey('ssh-ed25519', c));
    const ci: CloudInitRecord = { user: '_a-1', sshKeys, hostname: 'Web-1.example', passwordHash: '$6$salt/.$' + 'h'.repeat(86) };
    expect(yamlAsCloudInit(userData(ci))).toEqual({
      hostname: 'Web-1.example',
      users: [{ name: '_a-1', sudo: 'ALL=(ALL) NOPASSWD:ALL', shell: '/bin/bash', lock_passwd: false, hashed_passwd: ci.passwordHash, ssh_authorized_keys: sshKeys }],
    });
    expect(yamlAsCloudInit(metaData('box1', ci))).toEqual({ 'instance-id': 'box1', 'local-hostname': 'Web-1.example' });
  });

  it('key comments that no YAML parser or authorized_keys file can carry are refused', () => {
    for (const bad of ['lone\ud800', 'x\udc00y', 'nonchar\ufdd0', 'x\u{10ffff}', 'end\uffff', 'x\ufffe']) {
      expect(sshKeyProblem(publicKey('ssh-ed25519', bad)), JSON.stringify(bad)).toMatch(/invisible character in its comment/);
    }
  });
});

describe('the seed', () => {
  const keys = [publicKey('ssh-ed25519', 'ada@laptop'), publicKey('ecdsa-sha2-nistp256', '')];
  const record: CloudInitRecord = { user: 'ada', sshKeys: keys, hostname: 'web-1', passwordHash: '$6$saltsalt$' + 'h'.repeat(86) };

  it('is an ISO 9660 volume labelled cidata with Rock Ridge and Joliet, holding user-data and meta-data', async () => {
    const iso = path.join(tmp.dir, 'a', 'seed.iso');
    fs.mkdirSync(path.dirname(iso));
    await writeSeed(iso, 'box123', record);
    const info = isoinfo(iso, '-d');
    expect(info).toMatch(/^Volume id: cidata$/m);
    expect(info).toMatch(/Rock Ridge signatures version/);
    expect(info).toMatch(/Joliet with UCS level/);
    expect(isoinfo(iso, '-R', '-f').split('\n').filter(Boolean).sort()).toEqual(['/meta-data', '/user-data']);
    expect(extract(iso, 'meta-data')).toBe('instance-id: "box123"\nlocal-hostname: "web-1"\n');
    expect(extract(iso, 'user-data')).toBe([
      '#cloud-config',
      'hostname: "web-1"',
      'users:',
      '  - name: "ada"',
      '    sudo: "ALL=(ALL) NOPASSWD:ALL"',
      '    shell: /bin/bash',
      '    lock_passwd: false',
      `    hashed_passwd: "${record.passwordHash}"`,
      '    ssh_authorized_keys:',
      `      - "${keys[0]}"`,
      `      - "${keys[1]}"`,
      '',
    ].join('\n'));
    // Nothing but the seed is left in its folder: the staging files went.
    expect(fs.readdirSync(path.dirname(iso))).toEqual(['seed.iso']);
    expect(fs.statSync(iso).mode & 0o777).toBe(0o600);
  });

  it('without a password the account is locked; with a password and no key ssh takes the password', async () => {
    const dir = path.join(tmp.dir, 'b');
    fs.mkdirSync(dir);
    await writeSeed(path.join(dir, 'keys.iso'), 'b1', { ...record, passwordHash: null });
    const keysOnly = extract(path.join(dir, 'keys.iso'), 'user-data');
    expect(keysOnly).toContain('    lock_passwd: true\n');
    expect(keysOnly).not.toContain('hashed_passwd');
    expect(keysOnly).not.toContain('ssh_pwauth');
    await writeSeed(path.join(dir, 'pw.iso'), 'b2', { ...record, sshKeys: [] });
    const passwordOnly = extract(path.join(dir, 'pw.iso'), 'user-data');
    expect(passwordOnly).toContain('ssh_pwauth: true\n');
    expect(passwordOnly).not.toContain('ssh_authorized_keys');
  });

  it('follows no symlink planted at its temporary or staging names: the files they point to stay as they were', async () => {
    const dir = path.join(tmp.dir, 'planted');
    const outside = path.join(tmp.dir, 'outside');
    fs.mkdirSync(dir);
    fs.mkdirSync(outside);
    const victim = path.join(outside, 'precious');
    fs.writeFileSync(victim, 'keep me');
    fs.symlinkSync(victim, path.join(dir, '.seed.iso.tmp'));
    fs.symlinkSync(outside, path.join(dir, '.seed'));
    await writeSeed(path.join(dir, 'seed.iso'), 'p1', record);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    expect(fs.readdirSync(outside)).toEqual(['precious']);
    expect(extract(path.join(dir, 'seed.iso'), 'meta-data')).toContain('instance-id: "p1"');
    expect(fs.lstatSync(path.join(dir, 'seed.iso')).isFile()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['seed.iso']);
  });

  it('replaces an older seed whole and clears a staging folder a crash left', async () => {
    const dir = path.join(tmp.dir, 'c');
    fs.mkdirSync(path.join(dir, '.seed'), { recursive: true });
    fs.writeFileSync(path.join(dir, '.seed', 'user-data'), 'stale');
    fs.writeFileSync(path.join(dir, 'seed.iso'), 'old bytes');
    await writeSeed(path.join(dir, 'seed.iso'), 'c1', record);
    expect(extract(path.join(dir, 'seed.iso'), 'meta-data')).toContain('instance-id: "c1"');
    expect(fs.readdirSync(dir)).toEqual(['seed.iso']);
  });
});

/** A home with a 1 MiB image "img" in `<tmp>/<name>/h`, open for `work`, closed after. */
async function withHome(name: string, work: (core: Core, dir: string) => Promise<void>): Promise<void> {
  const dir = path.join(tmp.dir, name);
  fs.mkdirSync(dir);
  makeQcow2(path.join(dir, 'img.qcow2'), 1024 * 1024);
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test' });
  try {
    await core.images.import({ path: path.join(dir, 'img.qcow2'), name: 'img' });
    await work(core, dir);
  } finally {
    await core.close();
  }
}

describe('the seed at start', () => {
  it('is made again from the record whatever lies at its path: gone, a symlink, another ISO or a larger file', async () => {
    await withHome('start', async (core, dir) => {
      const key = publicKey();
      const box = await core.boxes.create({ name: 'web', image: 'img', cloudInitUser: 'ada', cloudInitSshKeys: [key] });
      const seed = core.paths.seedIso(box.id);
      const victim = path.join(dir, 'victim');
      fs.writeFileSync(victim, 'not a seed');
      const other = path.join(dir, 'other');
      fs.mkdirSync(other);
      fs.writeFileSync(path.join(other, 'user-data'), '#cloud-config\nruncmd: [touch /pwned]\n');
      const tampered: Array<[string, () => void]> = [
        ['gone', () => fs.rmSync(seed)],
        ['another ISO', () => { spawnSync('genisoimage', ['-quiet', '-o', seed, '-V', 'cidata', '-R', other]); }],
        ['a larger file', () => fs.appendFileSync(seed, Buffer.alloc(4096, 0x41))],
        ['a symlink', () => { fs.rmSync(seed); fs.symlinkSync(victim, seed); }],
      ];
      for (const [what, tamper] of tampered) {
        tamper();
        const checked = await seedFor(core, core.store.findBox('web')!);
        expect(checked?.path, what).toBe(seed);
        expect(fs.lstatSync(seed).isFile(), what).toBe(true);
        expect(fs.statSync(seed).ino, what).toBe(checked!.ino);
        expect(extract(seed, 'user-data'), what).toContain(`      - "${key}"\n`);
        expect(extract(seed, 'user-data'), what).not.toContain('runcmd');
        expect(extract(seed, 'meta-data'), what).toBe(`instance-id: "${box.id}"\nlocal-hostname: "web"\n`);
        expect(fs.readFileSync(victim, 'utf8')).toBe('not a seed');
      }
    });
  });
});

describe('a cloud-init user', () => {
  it('with neither a password nor an SSH key is refused (locked, keyless: nobody could ever log in), leaving no box', async () => {
    await withHome('nologin', async (core) => {
      await expect(core.boxes.create({ name: 'web', image: 'img', cloudInitUser: 'ada', cloudInitHostname: 'web' }))
        .rejects.toThrow(/^The user "ada" would have no way to log in: give an SSH key \(cloudInitSshKeys, --ssh-key\) or a password \(cloudInitPassword, --password-file\)\.$/);
      expect(core.store.listBoxes()).toEqual([]);
      expect(fs.existsSync(core.paths.boxesDir) ? fs.readdirSync(core.paths.boxesDir) : []).toEqual([]);
    });
  });
});
