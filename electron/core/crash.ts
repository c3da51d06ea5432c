// Crash injection for tests: with BOXKEEP_CRASH_AT=<point> the process SIGKILLs itself when it
// reaches that point. There is a point between every two irreversible steps of every
// multi-file operation; tests kill each operation at each one, recover, and check the data.

export const CRASH_POINTS = [
  'image-import:after-intent',
  'image-import:after-convert',
  'image-import:after-install',
  'image-import:after-row',
  'image-remove:after-intent',
  'image-remove:after-row',
  'image-remove:after-delete',
  'box-create:after-intent',
  'box-create:after-overlay',
  'box-create:after-row',
  'box-remove:after-intent',
  'box-remove:after-row',
  'box-remove:after-delete',
  'snapshot-create:after-intent',
  'snapshot-create:after-overlay',
  'snapshot-create:after-freeze',
  'snapshot-create:after-install',
  'snapshot-create:after-row',
  'snapshot-restore:after-intent',
  'snapshot-restore:after-overlay',
  'snapshot-restore:after-install',
  'snapshot-restore:after-row',
  'snapshot-remove:after-intent',
  'snapshot-remove:after-merge',
  'snapshot-remove:after-swap',
  'snapshot-remove:after-row',
  'snapshot-remove:after-delete',
  // Live operations on a running box (QEMU keeps running when the owner dies).
  'live-create:after-intent',
  'live-create:after-overlay',
  'live-create:after-pause',
  'live-create:after-freeze',
  'live-create:after-install',
  'live-create:after-switch',
  'live-create:after-resume',
  'live-create:after-row',
  'live-remove:after-intent',
  'live-remove:after-job',
  'live-remove:after-stream',
  'live-remove:after-row',
  'live-remove:after-delete',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

/** Reads the variable on every call so a test can set it per spawned process. */
export function crashPoint(point: CrashPoint): void {
  const target = process.env.BOXKEEP_CRASH_AT;
  if (target && target === point) {
    process.kill(process.pid, 'SIGKILL');
  }
}
