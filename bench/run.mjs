// npm run bench [-- --json]: every benchmark, each figure printed beside its floor.
import { print } from './lib.mjs';
import { engineBenchmarks } from './engine.mjs';

const json = process.argv.includes('--json');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const suites = {
  engine: engineBenchmarks,
  cli: async () => (await import('./cli.mjs')).cliBenchmarks(),
  // Loaded only when run: it drives Chromium, which the other suites do not need.
  render: async () => (await import('./render.mjs')).renderBenchmarks(),
  // Boots a guest of its own: keystroke echo and throughput through every transport.
  terminal: async () => (await import('./terminal.mjs')).terminalBenchmarks(),
  // The same guest and Chromium: a `cat` timed until the Console tab has drawn it.
  'terminal-drawn': async () => (await import('./terminal-drawn.mjs')).terminalDrawnBenchmarks(),
  // The cloud-init seed: genisoimage and openssl, beside their bare runs.
  seed: async () => (await import('./seed.mjs')).seedBenchmarks(),
  // A screen of its own (the test boot sector) and Chromium: a key timed until the picture shows it.
  display: async () => (await import('./display.mjs')).displayBenchmarks(),
  // Boots a blank disk with a screen: screenshot through the channel vs a raw QMP screendump.
  screen: async () => (await import('./screen.mjs')).screenBenchmarks(),
  // Looking inside snapshots: changed bytes from the layers, changed files through libguestfs.
  inside: async () => (await import('./inside.mjs')).insideBenchmarks(),
  // Boots the tiny guest through OVMF and through SeaBIOS.
  uefi: async () => (await import('./uefi.mjs')).uefiBenchmarks(),
  // The test guest with qemu-ga: fsfreeze/thaw around a live snapshot, beside the pause without it.
  agent: async () => (await import('./agent.mjs')).agentBenchmarks(),
  // AutoProtect: the retention plan over a year of hourly snapshots, the scheduler's idle CPU.
  protect: async () => (await import('./protect.mjs')).protectBenchmarks(),
  // Export, import and clones of a 1 GiB box (BENCH_ARCHIVE_MIB), beside tar and qemu-img.
  archive: async () => (await import('./archive.mjs')).archiveBenchmarks(),
  // Snapshots with memory at -m 256 and -m 1024: pause windows, state size, restore to running.
  memory: async () => (await import('./memory.mjs')).memoryBenchmarks(),
  // The guest-visible stall of a live snapshot (the guest's probe), idle and writing, beside a bare QMP transaction.
  'live-stall': async () => (await import('./live-stall.mjs')).liveStallBenchmarks(),
  // Live removal of the live disk's snapshot, commit or stream, beside the bare QMP job.
  'live-remove': async () => (await import('./live-remove.mjs')).liveRemoveBenchmarks(),
};
try {
  const { vmBenchmarks } = await import('./vm.mjs');
  suites.vm = vmBenchmarks;
} catch (err) {
  if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
}
const rows = [];
for (const [name, run] of Object.entries(suites)) {
  if (only && only !== name) continue;
  rows.push(...(await run()));
}
print(rows, json);
