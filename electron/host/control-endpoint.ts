import { crypto } from '../core/builtins.js';
import path from 'node:path';

/**
 * The address of a home's control socket. Windows has no socket files, so there it is a named
 * pipe whose name is derived from the home path (same home, same pipe).
 */
export function controlEndpoint(socketPath: string, platform: NodeJS.Platform = process.platform): string {
  if (platform !== 'win32') return socketPath;
  const digest = crypto().createHash('sha256').update(path.resolve(socketPath).toLowerCase()).digest('hex').slice(0, 32);
  return `\\\\?\\pipe\\boxkeep-${digest}`;
}
