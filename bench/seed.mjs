// Seed creation (issue 12): writing a box's NoCloud seed (two files staged, genisoimage, fsync,
// rename) beside the floor of a bare `genisoimage` run on the same two files; the password hash
// (`openssl passwd -6`) beside a bare `openssl version` spawn; and a whole box create with
// cloud-init beside one without. Run alone with `node bench/seed.mjs [--json]`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { print, requireBuilt, row, sh, tempDir, timeIt } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { writeSeed, userData, metaData } = await import('../dist/electron/core/cloudinit/seed.js');
const { hashPassword } = await import('../dist/electron/core/cloudinit/password.js');

const N = Number(process.env.BENCH_N ?? 15);
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbmZfhDXoajNvB+I4XnuugZhTBZHVZP95e1L9zImjnD ada@laptop';
const RECORD = { user: 'ada', sshKeys: [KEY], hostname: 'web-1', passwordHash: '$6$saltsaltsaltsalt$' + 'h'.repeat(86) };

export async function seedBenchmarks() {
  const dir = tempDir('bkseed-');
  try {
    const rows = [];
    // The floor: genisoimage alone, on the same files, already written.
    fs.writeFileSync(path.join(dir, 'user-data'), userData(RECORD));
    fs.writeFileSync(path.join(dir, 'meta-data'), metaData('box1', RECORD));
    const bare = [];
    const seed = [];
    for (let i = 0; i < N; i++) {
      bare.push(await timeIt(() => sh('genisoimage', ['-quiet', '-output', path.join(dir, `bare-${i}.iso`), '-volid', 'cidata', '-joliet', '-rock', path.join(dir, 'user-data'), path.join(dir, 'meta-data')])));
      const box = path.join(dir, `box-${i}`);
      fs.mkdirSync(box);
      seed.push(await timeIt(() => writeSeed(path.join(box, 'seed.iso'), 'box1', RECORD)));
    }
    rows.push(row('seed: write the NoCloud seed', seed, bare, 'floor: a bare genisoimage of the same two files'));

    const hash = [];
    const spawn = [];
    for (let i = 0; i < N; i++) {
      hash.push(await timeIt(() => hashPassword('correct horse battery staple')));
      spawn.push(await timeIt(() => spawnSync('openssl', ['version'])));
    }
    rows.push(row('seed: hash the password (openssl passwd -6)', hash, spawn, 'floor: a bare `openssl version` spawn'));

    const core = await openCore({ home: path.join(dir, 'h'), owner: 'test' });
    try {
      const image = path.join(dir, 'img.qcow2');
      sh('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
      await core.images.import({ path: image, name: 'img' });
      const plain = [];
      const cloud = [];
      for (let i = 0; i < N; i++) {
        plain.push(await timeIt(() => core.boxes.create({ name: `plain-${i}`, image: 'img' })));
        cloud.push(await timeIt(() => core.boxes.create({ name: `cloud-${i}`, image: 'img', cloudInitUser: 'ada', cloudInitPassword: 'pw', cloudInitSshKeys: [KEY] })));
      }
      rows.push(row('seed: box create with cloud-init', cloud, plain, 'floor: the same box create without cloud-init'));
    } finally {
      await core.close();
    }
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) print(await seedBenchmarks(), process.argv.includes('--json'));
