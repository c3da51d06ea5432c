#!/usr/bin/env node
// Builds the tiny test guest (Debian cloud kernel + busybox initramfs) from Debian packages
// only, and makes ext4 data disks for it. Tests drive real QEMU with this guest, so it must
// build offline from what apt already knows and be instant once cached.
//
//   node scripts/build-guest.mjs                         → {"kernel": …, "initrd": …} on stdout
//   node scripts/build-guest.mjs --data-disk <out.qcow2> --size 64M [--from <dir>]
//
// Cache: <repo>/.cache/guest/. The key is the kernel package and version plus a hash of the
// init text and module list below, so editing either rebuilds the initramfs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.cache', 'guest');
const KERNELS = path.join(CACHE, 'kernels');
const META_PACKAGE = 'linux-image-cloud-amd64';
// Load order matters: each module needs the symbols of the ones before it (modinfo depends:
// virtio_net needs virtio_ring, virtio and net_failover; net_failover needs failover).
// virtio_console (the guest agent's virtio-serial port) needs virtio and virtio_ring.
const MODULES = ['virtio_ring', 'virtio', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci', 'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'efivarfs', 'virtio_console'];
// Debian's qemu-guest-agent, run only with \`boxkeep.agent=on\` on the kernel command line: a
// guest without it answers no agent call (the crash-consistent path), and boxes of other tests
// keep stopping and snapshotting as before. Its libraries (ldd) go in beside it.
const QEMU_GA = '/usr/sbin/qemu-ga';
// The IDE CD-ROM stack and ISO 9660, for the cloud-init seed: loaded only with
// \`boxkeep.cidata=print\` on the kernel command line, so other boots stay as fast as before
// (isofs needs cdrom first; sr_mod needs scsi_mod and cdrom; ata_piix needs libata).
const CD_MODULES = ['scsi_common', 'scsi_mod', 'libata', 'ata_piix', 'cdrom', 'sr_mod', 'isofs'];
const ALL_MODULES = [...MODULES, ...CD_MODULES];
const READY_LINE = 'BOXKEEP-GUEST-READY';
const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };
/** What the guest's httpd serves at /; tests look for the marker through a port forward. */
const WWW_MARKER = 'BOXKEEP-GUEST-HTTPD';

// PID 1. Brings up the disk and, when there is a network card, eth0 (DHCP from QEMU's user
// network, which answers at once; the fixed slirp address when it does not within ~3 s) and
// an httpd on port 80. Then it keeps a shell on the serial console: the command loop below,
// as its own session with the console as controlling terminal (cttyhack), so Ctrl-C stops
// the command running in it, not the loop; should the loop ever end, it starts again.
// With \`boxkeep.console=login\` on the kernel command line it keeps a login shell there
// instead (LOGIN below), as a person would meet it: echo on, a prompt, restarted on exit.
// Opt-in per image, so the tests that drive the command loop see it unchanged.
const INIT = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
dmesg -n 1
has_blk=0
has_net=0
has_con=0
for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor 2>/dev/null)" = 0x1af4 ] || continue
  case "$(cat $d/device 2>/dev/null)" in 0x1001|0x1042) has_blk=1;; 0x1000|0x1041) has_net=1;; 0x1003|0x1043) has_con=1;; esac
done
for m in ${MODULES.join(' ')}; do
  case $m in failover|net_failover|virtio_net) [ $has_net = 1 ] || continue;; esac
  case $m in efivarfs) [ -d /sys/firmware/efi ] || continue;; esac
  case $m in virtio_console) [ $has_con = 1 ] || continue;; esac
  if [ -f /lib/boxkeep/$m.ko ]; then insmod /lib/boxkeep/$m.ko || echo "BOXKEEP-GUEST: insmod $m failed"; fi
done
ifconfig lo 127.0.0.1 up
# Booted through UEFI firmware (OVMF): its variables as files, as a distribution mounts them.
[ -d /sys/firmware/efi/efivars ] && mount -t efivarfs efivarfs /sys/firmware/efi/efivars
disk=none
if [ $has_blk = 1 ]; then
  i=0
  while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  if [ -b /dev/vda ]; then
    if mount -t ext4 /dev/vda /mnt; then disk=mounted; else disk=unmountable; fi
  fi
fi
net=none
if [ $has_net = 1 ]; then
  i=0
  while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  if [ -e /sys/class/net/eth0 ]; then
    ifconfig eth0 up
    udhcpc -i eth0 -s /etc/udhcpc.script -f -q -n -t 3 -T 1 >/dev/null 2>&1 || { ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up; route add default gw 10.0.2.2; }
    httpd -p 80 -h /www
    net="eth0:$(ifconfig eth0 | sed -n 's/.*inet addr:\\([0-9.]*\\).*/\\1/p')"
  fi
fi
agent=off
for w in $(cat /proc/cmdline); do [ "$w" = boxkeep.agent=on ] && agent=on; done
if [ $agent = on ] && [ $has_con = 1 ]; then
  tar -xzf /lib/boxkeep/agent.tar.gz -C /
  # The port's name is in sysfs; devtmpfs makes /dev/vportNpM but not the by-name link udev would.
  mkdir -p /dev/virtio-ports
  i=0
  while [ $i -lt 50 ]; do
    for p in /sys/class/virtio-ports/*; do
      [ "$(cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && ln -sf /dev/$(basename $p) /dev/virtio-ports/org.qemu.guest_agent.0
    done
    [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ] && break
    sleep 0.1; i=$((i+1))
  done
  mkdir -p /var/run /var/log
  qemu-ga -d -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -l /var/log/qemu-ga.log -f /var/run/qemu-ga.pid -t /var/run || echo "BOXKEEP-GUEST: qemu-ga failed"
fi
cidata=none
for w in $(cat /proc/cmdline); do [ "$w" = boxkeep.cidata=print ] && cidata=print; done
if [ $cidata = print ]; then
  for m in ${CD_MODULES.join(' ')}; do
    if [ -f /lib/boxkeep/$m.ko ]; then insmod /lib/boxkeep/$m.ko || echo "BOXKEEP-GUEST: insmod $m failed"; fi
  done
  mkdir -p /cidata
  found=0
  i=0
  while [ $found = 0 ] && [ $i -lt 100 ]; do
    for d in /dev/sr*; do
      [ -b "$d" ] || continue
      # The volume label: 32 bytes at 0x8028 of the primary volume descriptor (busybox here has no blkid).
      [ "$(dd if=$d bs=1 skip=32808 count=7 2>/dev/null)" = "cidata " ] || continue
      if mount -t iso9660 -o ro "$d" /cidata; then
        found=1
        echo "BOXKEEP-CIDATA-BEGIN $d"; echo "--- user-data"; cat /cidata/user-data; echo "--- meta-data"; cat /cidata/meta-data; echo "BOXKEEP-CIDATA-END"
        # Left mounted (read-only) for tests to read again through the command loop.
      fi
      [ $found = 1 ] && break
    done
    [ $found = 1 ] || { sleep 0.1; i=$((i+1)); }
  done
  [ $found = 1 ] || echo "BOXKEEP-CIDATA-MISSING"
fi
probe=off
for w in $(cat /proc/cmdline); do [ "$w" = boxkeep.probe=on ] && probe=on; done
[ $probe = on ] && { /bin/boxkeep-probe & }
console=loop
for w in $(cat /proc/cmdline); do [ "$w" = boxkeep.console=login ] && console=login; done
if [ $console = login ]; then
  hostname boxkeep
  echo "${READY_LINE} disk=$disk net=$net console=login"
  while :; do setsid cttyhack /bin/boxkeep-login; done
fi
stty -echo
echo "${READY_LINE} disk=$disk net=$net"
while :; do setsid cttyhack /bin/boxkeep-shell; done
`;

// The login shell (no password: the console is the box owner's). TERM comes from a TERM= word
// on the kernel command line, else vt100: a serial line says nothing about the terminal on
// the other end, and xterm (the Console tab) and any host terminal understand vt100.
const LOGIN = `#!/bin/sh
TERM=vt100
for w in $(cat /proc/cmdline); do case $w in TERM=*) TERM=\${w#TERM=};; esac; done
stty sane echo
cd /root
exec env -i PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root USER=root LOGNAME=root SHELL=/bin/sh TERM=$TERM sh -l
`;
// ash reads it as a login shell; \u and \h come from /etc/passwd and the hostname init sets.
const PROFILE = "export PS1='\\u@\\h:\\w\\$ '\n";
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\n';
// qemu-ga's guest-shutdown runs \`/sbin/shutdown -P +0 …\` (-r reboot, -H halt); busybox has no
// shutdown applet. The data disk is synced and unmounted first, as a distribution's shutdown would.
const SHUTDOWN = `#!/bin/sh
sync
umount /mnt 2>/dev/null
case " $* " in *" -r "*) reboot -f;; esac
poweroff -f
`;

// The command loop. It checks syntax with \`sh -n\` first because a syntax error inside
// \`eval\` would end it (a non-interactive ash exits); \`trap : INT\` keeps it alive through
// Ctrl-C while the command it runs gets the default SIGINT and stops.
const SHELL = `#!/bin/sh
trap : INT
while IFS= read -r line; do
  if sh -n -c "$line" 2>/dev/null; then eval "$line"; else echo "BOXKEEP-SYNTAX-ERROR"; fi
done
`;

// The stall probe (scripts/guest-probe.sh, which says what it prints), started with
// \`boxkeep.probe=on\` on the kernel command line.
const PROBE = fs.readFileSync(path.join(ROOT, 'scripts', 'guest-probe.sh'), 'utf8');

// busybox udhcpc runs this with the lease in its environment.
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ifconfig "$interface" "$ip" netmask "\${subnet:-255.255.255.0}" up
    for r in $router; do route add default gw "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
  deconfig) ifconfig "$interface" 0.0.0.0 ;;
esac
exit 0
`;
const WWW_INDEX = `<!doctype html><title>Boxkeep test guest</title><p>${WWW_MARKER}</p>\n`;
const INIT_HASH = createHash('sha256').update(INIT).update(SHELL).update(UDHCPC_SCRIPT).update(WWW_INDEX).update(LOGIN).update(PROFILE).update(PASSWD).update(SHUTDOWN).update(PROBE).update(ALL_MODULES.join(',')).update(agentFingerprint()).update('format-1').digest('hex').slice(0, 16);

function main(argv) {
  const args = parseArgs(argv);
  if (args['data-disk']) {
    const out = makeDataDisk(path.resolve(args['data-disk']), parseSize(args.size ?? '64M'), args.from ? path.resolve(args.from) : null);
    process.stdout.write(JSON.stringify({ dataDisk: out }) + '\n');
    return;
  }
  const started = Date.now();
  const result = withLock(() => buildGuest());
  process.stdout.write(JSON.stringify({ ...result, elapsedMs: Date.now() - started }) + '\n');
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) fail(`unexpected argument: ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) fail(`${a} needs a value`);
    args[a.slice(2)] = next;
    i++;
  }
  return args;
}

function parseSize(text) {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  if (!m) fail(`--size must look like 64M, got ${text}`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
  return Number(m[1]) * unit;
}

// --- the guest ------------------------------------------------------------------------------

function buildGuest() {
  const outputs = { kernel: path.join(CACHE, 'vmlinuz'), initrd: path.join(CACHE, 'initrd.gz') };
  const stampFile = path.join(CACHE, 'stamp.json');
  const built = (stamp) => ({ ...outputs, kernelPackage: stamp.kernelPackage, release: stamp.release });
  const isCurrent = (stamp, key) => stamp?.key === key && fs.existsSync(outputs.kernel) && fs.existsSync(outputs.initrd);
  const lists = aptListsFingerprint();
  let stamp = readJson(stampFile);
  const wanted = resolveKernelPackage(stamp, lists);
  if (wanted && isCurrent(stamp, `${wanted.pkg}=${wanted.version}|${INIT_HASH}`)) {
    if (stamp.aptLists !== lists) writeAtomic(stampFile, JSON.stringify({ ...stamp, resolved: wanted, aptLists: lists }, null, 2));
    return { ...built(stamp), cached: true };
  }
  const kernel = obtainKernel(wanted);
  const key = `${kernel.pkg}=${kernel.version}|${INIT_HASH}`;
  if (!isCurrent(stamp, key)) {
    fs.mkdirSync(CACHE, { recursive: true });
    copyAtomic(kernel.vmlinuz, outputs.kernel);
    writeAtomic(outputs.initrd, buildInitramfs(kernel.modulesDir));
  }
  // The stamp goes last: a crash before it means the next run rebuilds, never trusts half.
  stamp = { key, kernelPackage: `${kernel.pkg}=${kernel.version}`, release: kernel.release, source: kernel.source, resolved: wanted, aptLists: wanted ? lists : null };
  writeAtomic(stampFile, JSON.stringify(stamp, null, 2));
  return { ...built(stamp), cached: false };
}

/**
 * The versioned kernel package the meta package points at, or null when apt can't say.
 * apt-cache takes ~1 s here (no pkgcache.bin in containers), so the answer is reused for as
 * long as the package lists are unchanged: that is what keeps a cached run instant.
 */
function resolveKernelPackage(stamp, lists) {
  if (lists && stamp?.aptLists === lists && stamp.resolved) return stamp.resolved;
  const show = run('apt-cache', ['show', '--no-all-versions', META_PACKAGE], { allowFail: true });
  const dep = /^Depends:.*?(linux-image-[^\s,()]+)\s*\(=\s*([^)\s]+)\)/m.exec(show.stdout);
  if (show.status !== 0 || !dep) return null;
  return { pkg: dep[1], version: dep[2] };
}

function aptListsFingerprint() {
  const dir = '/var/lib/apt/lists';
  const hash = createHash('sha256');
  try {
    for (const name of fs.readdirSync(dir).sort()) {
      const st = fs.statSync(path.join(dir, name));
      if (st.isFile()) hash.update(`${name}:${st.size}:${st.mtimeMs}\n`);
    }
  } catch {
    return null;
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * A kernel with its virtio modules, from (in order) the cache of an earlier download, a fresh
 * `apt-get download`, an installed /boot/vmlinuz-*, or any cached kernel at all.
 */
function obtainKernel(wanted) {
  const problems = [];
  if (wanted) {
    const dir = path.join(KERNELS, `${wanted.pkg}_${wanted.version}`);
    const cached = readKernelDir(dir);
    if (cached) return cached;
    try {
      return downloadKernel(wanted, dir);
    } catch (err) {
      problems.push(err.message);
    }
  } else {
    problems.push(`apt-cache could not resolve ${META_PACKAGE} (no package lists?)`);
  }
  const installed = installedKernel();
  if (installed) {
    log(`using the installed kernel ${installed.release}`);
    return installed;
  }
  const anyCached = listDirs(KERNELS).map((d) => readKernelDir(path.join(KERNELS, d))).filter(Boolean)
    .sort((a, b) => fs.statSync(b.vmlinuz).mtimeMs - fs.statSync(a.vmlinuz).mtimeMs)[0];
  if (anyCached) {
    log(`using the cached kernel ${anyCached.pkg}=${anyCached.version}`);
    return anyCached;
  }
  const pkg = wanted?.pkg ?? META_PACKAGE;
  fail(`no guest kernel available: ${problems.join('; ')}.\n` +
    `Run \`sudo apt-get update\` and check that \`apt-get download ${pkg}\` succeeds, or install a kernel ` +
    `with \`sudo apt-get install ${META_PACKAGE}\`; then run this script again.`);
}

function downloadKernel(wanted, dir) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-guest-'));
  try {
    // apt drops to the _apt user for downloads; it needs to write into the folder.
    fs.chmodSync(tmp, 0o777);
    const dl = run('apt-get', ['download', '-q', `${wanted.pkg}=${wanted.version}`], { cwd: tmp, allowFail: true });
    const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (dl.status !== 0 || !deb) {
      throw new Error(`\`apt-get download ${wanted.pkg}=${wanted.version}\` failed: ${(dl.stderr || dl.stdout).trim().split('\n').slice(-2).join(' ')}`);
    }
    const root = path.join(tmp, 'x');
    run('dpkg-deb', ['-x', path.join(tmp, deb), root]);
    const vmlinuz = listFiles(path.join(root, 'boot')).find((f) => path.basename(f).startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${deb} has no boot/vmlinuz-*`);
    const release = path.basename(vmlinuz).slice('vmlinuz-'.length);
    const staged = `${dir}.tmp-${process.pid}`;
    fs.rmSync(staged, { recursive: true, force: true });
    const builtin = installKernel({ vmlinuz, modulesRoot: path.join(root, 'lib', 'modules', release) }, staged);
    fs.writeFileSync(path.join(staged, 'kernel.json'), JSON.stringify({ pkg: wanted.pkg, version: wanted.version, release, source: 'apt-get download', builtin }));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staged, dir);
    log(`downloaded ${wanted.pkg}=${wanted.version}`);
    return readKernelDir(dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function installedKernel() {
  const images = listDirs('/boot', true).filter((f) => f.startsWith('vmlinuz-')).sort().reverse();
  for (const image of images) {
    const release = image.slice('vmlinuz-'.length);
    const modulesRoot = path.join('/lib/modules', release);
    if (!fs.existsSync(modulesRoot)) continue;
    try {
      fs.accessSync(path.join('/boot', image), fs.constants.R_OK);
    } catch {
      continue; // Ubuntu keeps /boot/vmlinuz-* root-only.
    }
    const dir = path.join(KERNELS, `installed_${release}`);
    if (!readKernelDir(dir)) {
      const staged = `${dir}.tmp-${process.pid}`;
      fs.rmSync(staged, { recursive: true, force: true });
      const builtin = installKernel({ vmlinuz: path.join('/boot', image), modulesRoot }, staged);
      fs.writeFileSync(path.join(staged, 'kernel.json'), JSON.stringify({ pkg: 'installed', version: release, release, source: '/boot', builtin }));
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(staged, dir);
    }
    return readKernelDir(dir);
  }
  return null;
}

/** Copies the kernel and the virtio modules (decompressed) into a cache folder; returns the
 *  modules of MODULES that are built into this kernel. */
function installKernel({ vmlinuz, modulesRoot }, dir) {
  const inKernel = [];
  const modulesDir = path.join(dir, 'modules');
  fs.mkdirSync(modulesDir, { recursive: true });
  fs.copyFileSync(vmlinuz, path.join(dir, 'vmlinuz'));
  const builtin = readText(path.join(modulesRoot, 'modules.builtin'));
  const found = new Map();
  for (const file of listFiles(path.join(modulesRoot, 'kernel'))) {
    const m = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(path.basename(file));
    if (m && ALL_MODULES.includes(m[1].replaceAll('-', '_'))) found.set(m[1].replaceAll('-', '_'), { file, compression: m[2] ?? '' });
  }
  for (const name of ALL_MODULES) {
    const hit = found.get(name);
    if (!hit) {
      // Built into this kernel: nothing to load. Anything else means the guest can't see its disk.
      if (new RegExp(`/${name.replaceAll('_', '[_-]')}\\.ko$`, 'm').test(builtin)) {
        inKernel.push(name);
        continue;
      }
      throw new Error(`kernel module ${name} is neither in ${modulesRoot} nor built in`);
    }
    const target = path.join(modulesDir, `${name}.ko`);
    if (hit.compression === '') fs.copyFileSync(hit.file, target);
    else if (hit.compression === '.gz') fs.writeFileSync(target, zlib.gunzipSync(fs.readFileSync(hit.file)));
    else {
      const tool = hit.compression === '.xz' ? 'xz' : 'zstd';
      fs.writeFileSync(target, run(tool, ['-dc', hit.file], { binary: true }).stdout);
    }
  }
  return inKernel;
}

function readKernelDir(dir) {
  const meta = readJson(path.join(dir, 'kernel.json'));
  const vmlinuz = path.join(dir, 'vmlinuz');
  if (!meta || !fs.existsSync(vmlinuz)) return null;
  // Cached before MODULES named what it lacks (e.g. virtio_net): not this guest's kernel any more.
  if (!ALL_MODULES.every((m) => (meta.builtin ?? []).includes(m) || fs.existsSync(path.join(dir, 'modules', `${m}.ko`)))) return null;
  return { ...meta, vmlinuz, modulesDir: path.join(dir, 'modules') };
}

/** busybox + applet symlinks + modules + /init, as a gzipped newc cpio archive. */
function buildInitramfs(modulesDir) {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((f) => fs.existsSync(f));
  if (!busybox) fail('busybox was not found; install it with: sudo apt-get install busybox-static');
  const bbFile = run('file', ['-b', busybox], { allowFail: true }).stdout;
  if (bbFile && /dynamically linked/.test(bbFile)) fail(`${busybox} is dynamically linked; install busybox-static: sudo apt-get install busybox-static`);
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-initramfs-'));
  try {
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'mnt', 'tmp', 'lib/boxkeep', 'etc', 'root']) {
      fs.mkdirSync(path.join(stage, d), { recursive: true });
    }
    fs.copyFileSync(busybox, path.join(stage, 'bin/busybox'));
    fs.chmodSync(path.join(stage, 'bin/busybox'), 0o755);
    for (const applet of run(busybox, ['--list-full']).stdout.split('\n').filter(Boolean)) {
      const link = path.join(stage, applet);
      if (applet === 'bin/busybox' || fs.existsSync(link)) continue;
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync('/bin/busybox', link);
    }
    for (const m of fs.readdirSync(modulesDir)) fs.copyFileSync(path.join(modulesDir, m), path.join(stage, 'lib/boxkeep', m));
    fs.writeFileSync(path.join(stage, 'init'), INIT, { mode: 0o755 });
    fs.writeFileSync(path.join(stage, 'bin/boxkeep-shell'), SHELL, { mode: 0o755 });
    fs.writeFileSync(path.join(stage, 'bin/boxkeep-probe'), PROBE, { mode: 0o755 });
    fs.writeFileSync(path.join(stage, 'etc/udhcpc.script'), UDHCPC_SCRIPT, { mode: 0o755 });
    fs.writeFileSync(path.join(stage, 'bin/boxkeep-login'), LOGIN, { mode: 0o755 });
    fs.writeFileSync(path.join(stage, 'etc/profile'), PROFILE);
    fs.writeFileSync(path.join(stage, 'etc/passwd'), PASSWD);
    fs.writeFileSync(path.join(stage, 'sbin/shutdown'), SHUTDOWN, { mode: 0o755 });
    for (const d of ['var/run', 'var/log']) fs.mkdirSync(path.join(stage, d), { recursive: true });
    fs.writeFileSync(path.join(stage, 'lib/boxkeep/agent.tar.gz'), agentArchive());
    fs.mkdirSync(path.join(stage, 'www'));
    fs.writeFileSync(path.join(stage, 'www/index.html'), WWW_INDEX);
    // Without /dev/console in the archive the kernel starts init with no stdio; init also
    // reopens the console after mounting devtmpfs, so this is only a nicety for root.
    if (process.getuid?.() === 0) run('mknod', ['-m', '600', path.join(stage, 'dev/console'), 'c', '5', '1'], { allowFail: true });
    const list = run('find', ['.', '-print0'], { cwd: stage }).stdout.split('\0').filter(Boolean).sort().join('\0') + '\0';
    const cpio = run('cpio', ['--null', '--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: stage, input: list, binary: true }).stdout;
    return zlib.gzipSync(cpio, { level: 9 });
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * qemu-ga and what the dynamic loader needs for it, each at the path ldd names (links
 * resolved), as a gzipped tar that init unpacks only for \`boxkeep.agent=on\`: ~5 MiB that
 * every other boot would otherwise inflate into its root filesystem (it only copies the
 * already-compressed archive).
 */
function agentArchive() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-agent-'));
  try {
    for (const file of agentFiles()) {
      const target = path.join(dir, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(fs.realpathSync(file), target);
      fs.chmodSync(target, 0o755);
    }
    return run('tar', ['-C', dir, '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-czf', '-', '.'], { binary: true }).stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** qemu-ga, its libraries and the dynamic loader, as `ldd` names them. */
function agentFiles() {
  if (!fs.existsSync(QEMU_GA)) fail(`${QEMU_GA} was not found; install it with: sudo apt-get install qemu-guest-agent`);
  const files = [QEMU_GA];
  for (const line of run('ldd', [QEMU_GA]).stdout.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) files.push(m[1]);
  }
  return [...new Set(files)];
}

/** Part of the cache key: a new qemu-ga or library (an apt upgrade) rebuilds the initramfs. */
function agentFingerprint() {
  if (!fs.existsSync(QEMU_GA)) return 'no-qemu-ga'; // buildInitramfs says what to install
  const hash = createHash('sha256');
  for (const file of agentFiles()) hash.update(file).update(fs.readFileSync(fs.realpathSync(file)));
  return hash.digest('hex');
}

// --- data disks -----------------------------------------------------------------------------

function makeDataDisk(out, size, fromDir) {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const raw = `${out}.raw-${process.pid}`;
  const empty = fromDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'bk-empty-'));
  try {
    fs.closeSync(fs.openSync(raw, 'w'));
    fs.truncateSync(raw, size);
    // Initialise the inode tables now: otherwise the guest's ext4lazyinit thread keeps
    // writing in the background and the disk changes under tests that compare contents.
    run('mkfs.ext4', ['-q', '-F', '-L', 'boxkeep', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-d', fromDir ?? empty, raw]);
    run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, out]);
    return out;
  } finally {
    fs.rmSync(raw, { force: true });
    if (empty) fs.rmSync(empty, { recursive: true, force: true });
  }
}

// --- small helpers --------------------------------------------------------------------------

/** Two test workers may build at once: one builds, the other waits and then finds the cache. */
function withLock(fn) {
  fs.mkdirSync(CACHE, { recursive: true });
  const lock = path.join(CACHE, '.lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const owner = Number(readText(path.join(lock, 'pid')));
      if (owner && !isAlive(owner)) fs.rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) fail(`${lock} is held by pid ${owner}; remove it if that process is gone`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function run(cmd, args, { cwd, input, allowFail = false, binary = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, input: typeof input === 'string' ? Buffer.from(input) : input, env: ENV, maxBuffer: 256 * 1024 * 1024, encoding: binary ? 'buffer' : 'utf8' });
  if (r.error?.code === 'ENOENT') {
    if (allowFail) return { status: 127, stdout: binary ? Buffer.alloc(0) : '', stderr: `${cmd} not found` };
    fail(`${cmd} was not found; install it with: sudo apt-get install ${PACKAGE_OF[cmd] ?? cmd}`);
  }
  if (r.error) throw r.error;
  if (r.status !== 0 && !allowFail) fail(`${cmd} ${args.join(' ')} exited with ${r.status}: ${String(r.stderr).trim()}`);
  return { status: r.status, stdout: r.stdout, stderr: binary ? String(r.stderr) : r.stderr };
}

const PACKAGE_OF = { 'mkfs.ext4': 'e2fsprogs', 'qemu-img': 'qemu-utils', cpio: 'cpio', 'dpkg-deb': 'dpkg', 'apt-get': 'apt', 'apt-cache': 'apt', xz: 'xz-utils', zstd: 'zstd' };

function copyAtomic(from, to) {
  writeAtomic(to, fs.readFileSync(from));
}

function writeAtomic(file, data) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function listDirs(dir, files = false) {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => (files ? e.isFile() : e.isDirectory()) && !e.name.includes('.tmp-')).map((e) => e.name);
  } catch {
    return [];
  }
}

function listFiles(dir) {
  try {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
  } catch {
    return [];
  }
}

function log(message) {
  process.stderr.write(`build-guest: ${message}\n`);
}

function fail(message) {
  throw new ScriptError(message);
}

class ScriptError extends Error {}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`build-guest: ${err instanceof ScriptError ? err.message : err.stack}\n`);
  process.exit(1);
}
