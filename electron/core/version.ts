// Boxkeep's version, read once from package.json (the CLI prints it, system:info reports it).
import { createRequire } from 'node:module';

export const VERSION: string = (() => {
  const require = createRequire(import.meta.url);
  // Source (electron/core) and build (dist/electron/core) sit at different depths.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'boxkeep' && pkg.version) return pkg.version;
    } catch {
      /* try the next layout */
    }
  }
  return '0.0.0';
})();
