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
import { readServeMemo, writeServeMemo } from './serve-memo.js';
import { startWebHost, type WebHost, type WebHostOptions } from './web-host.js';

export interface Serving {
  url: string;
  port: number;
  /** The port of the last run was taken, so this one differs: pages open at the old address cannot come back. */
  movedFrom: number | null;
  /** 'owner': this process holds the home; 'forwarding': the running app does. */
  mode: 'owner' | 'forwarding';
  staticDir: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  home: string;
  /** Undefined: the port of the last run when it is free, else any free port. 0: any free port. */
  port?: number;
  /** Retire the remembered token (a leaked address stops working). */
  newToken?: boolean;
  staticDir?: string;
  logger: Logger;
}

export async function serve(opts: ServeOptions): Promise<Serving> {
  const staticDir = opts.staticDir ?? rendererDir();
  const paths = new HomePaths(opts.home);
  const forward = await connectControl(paths.controlSocket);
  if (forward) {
    const host = await listen(opts, { router: forward, staticDir, logger: opts.logger }).catch((err: unknown) => {
      forward.close();
      throw err;
    });
    return {
      url: host.url, port: host.port, movedFrom: host.movedFrom, mode: 'forwarding', staticDir,
      async close() {
        await host.close();
        forward.close();
      },
    };
  }
  const owner = await startOwner({ home: opts.home, kind: 'host', logger: opts.logger, via: 'web' });
  try {
    const host = await listen(opts, { router: owner.router, staticDir, logger: opts.logger });
    return {
      url: host.url, port: host.port, movedFrom: host.movedFrom, mode: 'owner', staticDir,
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
 * Listens where the last run did, with its token, so an open page reconnects by itself; when
 * that port is taken meanwhile, on any free one (the caller says the address changed).
 */
async function listen(opts: ServeOptions, base: Omit<WebHostOptions, 'port' | 'token'>): Promise<WebHost & { movedFrom: number | null }> {
  const memo = readServeMemo(opts.home);
  const token = opts.newToken ? undefined : memo?.token;
  let host: WebHost;
  let movedFrom: number | null = null;
  if (opts.port === undefined && memo) {
    try {
      host = await startWebHost({ ...base, port: memo.port, token });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      host = await startWebHost({ ...base, port: 0, token });
      movedFrom = memo.port;
    }
  } else {
    host = await startWebHost({ ...base, port: opts.port ?? 0, token });
  }
  writeServeMemo(opts.home, { port: host.port, token: host.token });
  return { ...host, movedFrom };
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
