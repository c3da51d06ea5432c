// A real owner (core + router + control socket) on a temporary home, with one imported image
// and one box, for the transport tests. Everything is real: SQLite, qemu-img, the socket.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger, LogFields } from '../../electron/core/logger.js';
import { startOwner, type Owner } from '../../electron/host/owner.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';

export interface LogLine { level: 'info' | 'warn' | 'error'; message: string; fields: LogFields }

export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (message: string, fields: LogFields = {}) => void lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

export interface OwnedHome {
  /** The temp folder; the home is <dir>/home. */
  dir: string;
  home: string;
  owner: Owner;
  imageId: string;
  boxId: string;
  logger: ReturnType<typeof memoryLogger>;
  cleanup(): Promise<void>;
}

export async function ownedHome(opts: { kind?: 'app' | 'host' | 'test' } = {}): Promise<OwnedHome> {
  requireTools('qemu-img');
  const tmp = tempHome('bkh');
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, 16 * 1024 * 1024);
  const home = path.join(tmp.dir, 'home');
  const logger = memoryLogger();
  const owner = await startOwner({ home, kind: opts.kind ?? 'test', logger });
  const image = await owner.core.images.import({ path: seed, name: 'seed' });
  fs.rmSync(seed);
  const box = await owner.core.boxes.create({ name: 'alpha', image: image.id });
  return {
    dir: tmp.dir, home, owner, imageId: image.id, boxId: box.id, logger,
    async cleanup() {
      await owner.close().catch(() => {});
      tmp.cleanup();
    },
  };
}

/** Resolves with the first event payload matching, or rejects after `ms`. */
export function nextEvent<T>(subscribe: (listener: (payload: T) => void) => () => void, match: (payload: T) => boolean, ms = 1000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching event within ${ms} ms`));
    }, ms);
    const off = subscribe((payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}
