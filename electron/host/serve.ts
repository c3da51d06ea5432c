// `boxkeep serve`: the UI in a browser. If the app (or another serve) already owns the home,
// the page's calls are forwarded to it over the control socket; otherwise this process takes
// the home itself, runs recovery, and listens on the control socket for other commands.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.js';
import { HomePaths } from '../core/paths.js';
import { connectControl } from './control-client.js';
import { startOwner } from './owner.js';
import { startWebHost } from './web-host.js';

export interface Serving {
  url: string;
  port: number;
  /** 'owner': this process holds the home; 'forwarding': the running app does. */
  mode: 'owner' | 'forwarding';
  staticDir: string;
  close(): Promise<void>;
}

export async function serve(opts: { home: string; port?: number; staticDir?: string; logger: Logger }): Promise<Serving> {
  const staticDir = opts.staticDir ?? rendererDir();
  const paths = new HomePaths(opts.home);
  const forward = await connectControl(paths.controlSocket);
  if (forward) {
    const host = await startWebHost({ router: forward, staticDir, port: opts.port, logger: opts.logger }).catch((err: unknown) => {
      forward.close();
      throw err;
    });
    return {
      url: host.url, port: host.port, mode: 'forwarding', staticDir,
      async close() {
        await host.close();
        forward.close();
      },
    };
  }
  const owner = await startOwner({ home: opts.home, kind: 'host', logger: opts.logger, via: 'web' });
  try {
    const host = await startWebHost({ router: owner.router, staticDir, port: opts.port, logger: opts.logger });
    return {
      url: host.url, port: host.port, mode: 'owner', staticDir,
      async close() {
        await host.close();
        await owner.close();
      },
    };
  } catch (err) {
    await owner.close();
    throw err;
  }
}

/**
 * dist/renderer of this checkout (source and tsc output both live under the package root).
 * BOXKEEP_RENDERER_DIR points elsewhere, e.g. at a packaged app's renderer folder.
 */
export function rendererDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOXKEEP_RENDERER_DIR) return path.resolve(env.BOXKEEP_RENDERER_DIR);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && readName(manifest) === 'boxkeep') return path.join(dir, 'dist', 'renderer');
    const up = path.dirname(dir);
    if (up === dir) return path.resolve('dist', 'renderer');
    dir = up;
  }
}

function readName(manifest: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name ?? null;
  } catch {
    return null;
  }
}
