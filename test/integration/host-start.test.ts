// `npm start` on this machine, which cannot download Electron's runtime: it must say so
// plainly and serve the same UI to a browser; and the better-sqlite3 ABI switch it makes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without type declarations
import { binaryAbi, electronAbi, ensureNative } from '../../scripts/start.mjs';
import { tempHome } from '../helpers/disk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('npm start without an Electron runtime', () => {
  const tmp = tempHome('bkst');
  afterAll(() => tmp.cleanup());

  it('says the window cannot open, why, and serves the UI at a token URL instead', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs')], {
      cwd: ROOT,
      env: { ...process.env, BOXKEEP_HOME: path.join(tmp.dir, 'home'), BOXKEEP_LOG_DIR: path.join(tmp.dir, 'logs') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const until = Date.now() + 90_000;
      while (!/Boxkeep is at http/.test(out) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain("Electron's runtime is not available on this machine, so the desktop window cannot open (its download failed:");
      expect(out).toContain('So Boxkeep serves the same UI to a browser instead: open the address printed below in a browser on this machine.');
      const url = /Boxkeep is at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      const page = await new Promise<{ status: number; body: string }>((resolve, reject) =>
        http.get(url!, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject),
      );
      expect(page.status).toBe(200);
      expect(page.body).toContain('<div id="root">');
      expect(page.body).toMatch(/<script type="module" crossorigin src="\.\/assets\/[^"]+\.js">/);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    // start.mjs passed the signal on: serve released the home.
    expect(fs.existsSync(path.join(tmp.dir, 'home', 'home.lock'))).toBe(false);
  });
});

describe('a failed Electron download', () => {
  const tmp = tempHome('bkdl');
  afterAll(() => tmp.cleanup());

  /** findElectron in a fresh Node, as `npm start` runs it: what it prints and what it answers. */
  const find = (memo: string, version: string, retry = false) => {
    const code = `const m = await import(${JSON.stringify(path.join(ROOT, 'scripts', 'start.mjs'))}); const r = m.findElectron({ memo: ${JSON.stringify(memo)}, version: ${JSON.stringify(version)}, retry: ${retry} }); console.log('RESULT ' + JSON.stringify(r));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    const result = JSON.parse(/^RESULT (.*)$/m.exec(r.stdout)?.[1] ?? 'null') as { exe: string | null; reason: string | null; remembered: boolean } | null;
    return { said: r.stdout.replace(/^RESULT .*$/m, '').trim(), result };
  };

  it('is remembered per Electron version, so the next start neither says "downloading" nor tries again', () => {
    const memo = path.join(tmp.dir, 'electron-download.json');
    const first = find(memo, '45.5.0');
    expect(first.said).toContain('downloading it (once)');
    expect(first.result?.exe).toBeNull();
    expect(first.result?.remembered).toBe(false);
    expect(first.result?.reason).toMatch(/^its download failed: /);
    expect(JSON.parse(fs.readFileSync(memo, 'utf8'))).toMatchObject({ version: '45.5.0', reason: first.result?.reason });

    const second = find(memo, '45.5.0');
    expect(second.said).toBe('');
    expect(second.result).toEqual({ exe: null, reason: first.result?.reason, remembered: true });

    // Another Electron version (after an upgrade) is worth one new attempt; so is --retry-download.
    expect(find(memo, '46.0.0').said).toContain('downloading it (once)');
    expect(find(memo, '46.0.0', true).said).toContain('downloading it (once)');
  });
});

describe('better-sqlite3 ABI switch', () => {
  const tmp = tempHome('bkabi');
  afterAll(() => tmp.cleanup());

  it('reads the ABI a native module registers, and leaves a matching build alone', () => {
    expect(binaryAbi()).toBe(process.versions.modules);
    expect(electronAbi()).toMatch(/^\d+$/);
    expect(electronAbi()).not.toBe(process.versions.modules);
    const fake = (name: string, text: string) => {
      const file = path.join(tmp.dir, name);
      fs.writeFileSync(file, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1]), Buffer.from(text, 'latin1'), Buffer.alloc(8)]));
      return file;
    };
    expect(binaryAbi(fake('electron.node', '\0node_register_module_v150\0'))).toBe('150');
    expect(binaryAbi(fake('napi.node', '\0napi_register_module_v1\0'))).toBe('napi');
    expect(binaryAbi(path.join(tmp.dir, 'missing.node'))).toBeNull();
    const before = fs.statSync(path.join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')).mtimeMs;
    expect(ensureNative('node')).toBe(false);
    expect(fs.statSync(path.join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')).mtimeMs).toBe(before);
  });
});
