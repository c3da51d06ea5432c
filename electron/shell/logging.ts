// Logs: electron-log in the app (electron-log/main) and in `boxkeep serve` (electron-log/node)
// write the same structured lines into the same folder, rotated at a size limit. This file
// holds everything but the import of electron-log itself, so it runs under plain Node.
import os from 'node:os';
import path from 'node:path';
import type { Logger, LogFields } from '../core/logger.js';

export const APP_NAME = 'Boxkeep';
/** Past this size a log file is renamed to <name>.old.log and a new one started. */
export const LOG_MAX_BYTES = 5 * 1024 * 1024;

/** The part of electron-log (main or node flavour) this file configures. */
export interface ElectronLogLike {
  info(...params: unknown[]): void;
  warn(...params: unknown[]): void;
  error(...params: unknown[]): void;
  transports: {
    file: { maxSize: number; fileName: string; level: string | false; resolvePathFn: (...args: never[]) => string; getFile(): { path: string }; setAppName?(name: string): void };
    console: { level: string | false };
  };
}

/**
 * Where Boxkeep's logs live: electron-log's own default for the app (so "Open log folder"
 * and the files agree), and the same folder for `boxkeep serve`. BOXKEEP_LOG_DIR overrides it.
 */
export function logDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string {
  if (env.BOXKEEP_LOG_DIR) return path.resolve(env.BOXKEEP_LOG_DIR);
  if (platform === 'darwin') return path.join(home, 'Library', 'Logs', APP_NAME);
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), APP_NAME, 'logs');
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), APP_NAME, 'logs');
}

/** Points the file transport at `<logDir>/<fileName>`, with rotation; console only when asked. */
export function configureFileLog(log: ElectronLogLike, fileName: string, opts: { dir?: string; console?: boolean } = {}): string {
  const dir = opts.dir ?? logDir();
  const file = path.join(dir, fileName);
  // electron-log asks for the app name before it asks resolvePathFn, and outside Electron it
  // guesses it from the package.json above the working directory: run from any other folder,
  // `boxkeep serve` printed its stack trace on every line logged.
  log.transports.file.setAppName?.(APP_NAME);
  log.transports.file.fileName = fileName;
  log.transports.file.maxSize = LOG_MAX_BYTES;
  log.transports.file.level = 'info';
  (log.transports.file as { resolvePathFn: () => string }).resolvePathFn = () => file;
  log.transports.console.level = opts.console ? 'info' : false;
  return file;
}

/** One line per event: the message, then the fields as JSON (op, boxId, snapshotId, elapsed_ms...). */
export function formatLine(message: string, fields: LogFields = {}): string {
  const keys = Object.keys(fields).filter((k) => fields[k] !== undefined);
  if (keys.length === 0) return message;
  return `${message} ${JSON.stringify(Object.fromEntries(keys.map((k) => [k, fields[k]])))}`;
}

/** The core's Logger interface over electron-log. */
export function structuredLogger(log: Pick<ElectronLogLike, 'info' | 'warn' | 'error'>, source?: string): Logger {
  const tag = (fields?: LogFields) => (source ? { source, ...fields } : fields);
  return {
    info: (message, fields) => log.info(formatLine(message, tag(fields))),
    warn: (message, fields) => log.warn(formatLine(message, tag(fields))),
    error: (message, fields) => log.error(formatLine(message, tag(fields))),
  };
}

/** Chromium's console levels (0 verbose .. 3 error) as ours, for renderer messages. */
export function rendererLevel(level: number | string): 'info' | 'warn' | 'error' {
  if (level === 3 || level === 'error') return 'error';
  if (level === 2 || level === 'warning' || level === 'warn') return 'warn';
  return 'info';
}
