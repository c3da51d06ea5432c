// A small structured logger interface. The Electron shell passes electron-log; the CLI and
// tests pass a JSON-lines logger or the silent one.

export type LogFields = Record<string, unknown> & { op?: string; boxId?: string; snapshotId?: string; elapsed_ms?: number };

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Milliseconds to 0.01 ms, as every elapsed_ms and elapsedMs reports them. */
export const roundMs = (ms: number) => Math.round(ms * 100) / 100;

/** Milliseconds since `started` (a performance.now() reading), rounded. */
export const elapsedMs = (started: number) => roundMs(performance.now() - started);

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** JSON lines to a writable (stderr by default), for BOXKEEP_LOG=1 in the CLI. */
export function jsonLogger(write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const log = (level: string) => (message: string, fields: LogFields = {}) =>
    write(JSON.stringify({ t: new Date().toISOString(), level, message, ...fields }) + '\n');
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
