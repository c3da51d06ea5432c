// Durations tests change through the environment (BOXKEEP_SWITCH_WAIT_MS shortens, ...,
// BOXKEEP_SETTLE_RETRY_MS lengthens). Read on every call, so a test can set one for a single operation.

/** The variable as a positive number of milliseconds, or `fallback` when unset or not one. */
export function msFromEnv(name: string, fallback: number): number {
  const fromEnv = Number(process.env[name]);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : fallback;
}
