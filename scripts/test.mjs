#!/usr/bin/env node
// npm test: the whole suite. Checks the system tools first (a missing one fails loudly with the
// command that installs it), builds, typechecks, runs vitest, then prints one plain closing line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
process.chdir(root);

const tools = [
  ['qemu-img', 'qemu-utils'],
  ['qemu-io', 'qemu-utils'],
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['cpio', 'cpio'],
  ['busybox', 'busybox-static'],
  ['python3', 'python3'],
  ['genisoimage', 'genisoimage'],
  ['isoinfo', 'genisoimage'],
  ['openssl', 'openssl'],
  ['zstd', 'zstd'],
  ['guestfish', 'libguestfs-tools'],
  // The look-inside tests partition fixture disks and change them on the host (test/helpers/edit-disk.ts).
  ['sfdisk', 'fdisk'],
  ['qemu-storage-daemon', 'qemu-system-common'],
];
const missing = tools.filter(([bin]) => !onPath(bin));
// qemu-ga is copied into the test guest from where the package puts it (not on a user's PATH).
if (!fs.existsSync('/usr/sbin/qemu-ga')) missing.push(['qemu-ga', 'qemu-guest-agent']);
if (!fs.existsSync('/usr/lib/chromium/chromium') && !process.env.BOXKEEP_CHROMIUM) missing.push(['chromium', 'chromium']);
// UEFI firmware is files, not a command (electron/core/vm/firmware.ts).
if (!fs.existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd')) missing.push(['OVMF (UEFI firmware)', 'ovmf']);
// libguestfs's appliance boots a kernel from /boot (looking inside snapshots, electron/core/inside).
if (!fs.existsSync('/boot') || !fs.readdirSync('/boot').some((f) => f.startsWith('vmlinuz-'))) missing.push(['a kernel in /boot (for libguestfs)', 'linux-image-cloud-amd64']);
if (missing.length) {
  const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ');
  console.error(`npm test: missing ${missing.map(([b]) => b).join(', ')}.\nInstall with: sudo apt-get install -y --no-install-recommends ${pkgs}`);
  process.exit(1);
}

run('npm', ['run', '--silent', 'build']);
// The type tests (expectTypeOf: preload, router and client in step with the channel map) are
// checked by the compiler, not at run time.
run('npm', ['run', '--silent', 'typecheck']);
fs.mkdirSync('test-artifacts', { recursive: true });
const report = path.join('test-artifacts', 'vitest.json');
fs.rmSync(report, { force: true });
const args = ['vitest', 'run', '--allowOnly=false', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const status = spawnSync('npx', args, { stdio: 'inherit' }).status ?? 1;
try {
  const r = JSON.parse(fs.readFileSync(report, 'utf8'));
  writeDurations(r);
  console.log(`\nvitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  if (r.numTotalTests === 0) {
    console.error('npm test: no test ran');
    process.exit(1);
  }
  // A skipped or todo test is a defect in the whole run, never a pass (a run narrowed by
  // arguments, e.g. -t, skips the rest on purpose).
  if (process.argv.length <= 2 && (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0) > 0) {
    console.error(`npm test: ${r.numPendingTests} skipped and ${r.numTodoTests} todo tests (none may be)`);
    process.exit(1);
  }
} catch {
  console.error('npm test: vitest wrote no report');
  process.exit(status || 1);
}
process.exit(status);

/** Each file's seconds, longest first, in the shape of test/setup/durations.json (the sequencer's order). */
function writeDurations(r) {
  const seconds = Object.fromEntries(r.testResults
    .map((t) => [path.relative(root, t.name).split(path.sep).join('/'), Math.round((t.endTime - t.startTime) / 100) / 10])
    .sort((a, b) => b[1] - a[1]));
  fs.writeFileSync(path.join('test-artifacts', 'durations.json'), JSON.stringify(seconds, null, 1) + '\n');
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`npm test: ${cmd} ${args.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}

function onPath(bin) {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => {
    try {
      fs.accessSync(path.join(d, bin), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
