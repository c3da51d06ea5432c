// CLI start-up (issue 9): the wall time of whole `boxkeep` commands, each a fresh Node process as
// a user runs it, beside the floor `node -e 0` (what any Node program pays before its first line).
// Target: box list, snapshot list and a snapshot create forwarded to a running owner within 1.3x.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireBuilt, row, sh, tempDir } from './lib.mjs';

requireBuilt();
const N = Number(process.env.BENCH_N ?? 15);
const BIN = new URL('../bin/boxkeep.cjs', import.meta.url).pathname;
const TARGET = 'within 1.3x of the floor';

function wall(args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

/** Samples of one command, interleaved with the floor so both see the same machine load. */
function measure(args) {
  wall(args); // warm the page cache
  const samples = [];
  const floor = [];
  for (let i = 0; i < N; i++) {
    floor.push(wall(['-e', '0']));
    samples.push(wall(args));
  }
  return { samples, floor };
}

export async function cliBenchmarks() {
  const dir = tempDir('bkcli-');
  const home = path.join(dir, 'h');
  const cli = (...args) => [BIN, '--home', home, ...args];
  let owner = null;
  try {
    const seed = path.join(dir, 'seed.qcow2');
    sh('qemu-img', ['create', '-q', '-f', 'qcow2', seed, '64M']);
    for (const args of [['image', 'import', seed, '--name', 'seed'], ['box', 'create', 'b', '--image', 'seed']]) wall(cli(...args));
    for (let i = 0; i < 10; i++) wall(cli('snapshot', 'create', 'b', `s${i}`));
    const rows = [];
    for (const [name, args] of [['box list', ['box', 'list']], ['snapshot list', ['snapshot', 'list', 'b']]]) {
      const { samples, floor } = measure(cli(...args));
      rows.push(row(`CLI ${name} (no owner), wall`, samples, floor, TARGET));
    }
    owner = await startOwner(home);
    let n = 0;
    wall(cli('snapshot', 'create', 'b', 'warm'));
    const samples = [];
    const floor = [];
    for (let i = 0; i < N; i++) {
      floor.push(wall(['-e', '0']));
      samples.push(wall(cli('snapshot', 'create', 'b', `f${n++}`)));
    }
    rows.push(row('CLI snapshot create forwarded to a running owner, wall', samples, floor, TARGET));
    return rows;
  } finally {
    owner?.kill('SIGTERM');
    if (owner) await new Promise((done) => owner.once('exit', done));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `boxkeep serve` owns the home; later commands forward to it over control.sock. */
async function startOwner(home) {
  const child = spawn(process.execPath, [BIN, '--home', home, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const sock = path.join(home, 'control.sock');
  for (const deadline = Date.now() + 20_000; !fs.existsSync(sock); ) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('bench: boxkeep serve did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}
