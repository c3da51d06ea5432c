// Boxkeep's version, read from package.json on first use (the CLI prints it, system:info
// reports it): most commands never ask, and reading it cost each of them ~2 ms of start-up.
import fs from 'node:fs';

let cached: string | undefined;

export function version(): string {
  return (cached ??= readVersion());
}

function readVersion(): string {
  // Source (electron/core) and build (dist/electron/core) sit at different depths. Read, not
  // require()d: Node's require of a JSON file walks package scopes first, a few ms per command.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'boxkeep' && pkg.version) return pkg.version;
    } catch {
      /* try the next layout */
    }
  }
  return '0.0.0';
}
