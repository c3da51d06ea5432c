// Crash injection for tests: with BOXKEEP_CRASH_AT=<point> the process SIGKILLs itself when it
// reaches that point. There is a point between every two irreversible steps of every
// multi-file operation; each operation kind declares its own (operation-kind.ts), the list of
// all is CRASH_POINTS in operations.ts, and tests kill each operation at each one, recover,
// and check the data.

/** Reads the variable on every call so a test can set it per spawned process. */
export function crashPoint(point: string): void {
  const target = process.env.BOXKEEP_CRASH_AT;
  if (target && target === point) {
    process.kill(process.pid, 'SIGKILL');
  }
}
