// Packaging: the electron-builder config against the schema electron-builder ships, a real
// unpacked Linux build (with a stub in place of the Electron binary, which cannot be
// downloaded here), and what ends up inside it: the app in the asar, better-sqlite3's native
// module beside it, a preload that runs with nothing but 'electron' to require.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import * as asar from '@electron/asar';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS } from '../../shared/channels.js';
// @ts-expect-error -- a plain .mjs CI script without type declarations
import { scanAndEvaluate } from '../../.ci/electronegativity.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = path.join(ROOT, 'build', 'electron-builder.json');
const config = JSON.parse(fs.readFileSync(CONFIG, 'utf8'));
const electronVersion = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8')).version as string;

function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  expect(b.subarray(0, 8).toString('hex'), file).toBe('89504e470d0a1a0a');
  expect(b.subarray(12, 16).toString('ascii'), file).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function node(args: string[], timeout = 180_000) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout;
}

describe('electron-builder config', () => {
  it('is valid against app-builder-lib/scheme.json', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/app-builder-lib/scheme.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const ok = validate(config);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 1)).toEqual([]);
    expect(ok).toBe(true);
    // The validator does catch mistakes: an unknown key and a wrong type are both reported.
    expect(validate({ ...config, linux: { ...config.linux, target: 42 }, notAnOption: true })).toBe(false);
  });

  it('targets AppImage and deb, dmg, and nsis, with the app icon', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.win.target).toEqual(['nsis']);
    for (const os_ of ['linux', 'mac', 'win']) expect(config[os_].icon).toBe('assets/icon.png');
    expect(config.asarUnpack).toContain('node_modules/better-sqlite3/**/*');
    expect(config.deb.depends).toEqual(expect.arrayContaining(['qemu-utils']));
  });

  it('ships icons of the sizes the platforms need: a 512 px app icon, tray icons light and dark', () => {
    expect(pngSize(path.join(ROOT, 'assets/icon.png'))).toEqual({ width: 512, height: 512 });
    for (const variant of ['light', 'dark']) {
      expect(pngSize(path.join(ROOT, `assets/tray-${variant}.png`))).toEqual({ width: 32, height: 32 });
      expect(pngSize(path.join(ROOT, `assets/tray-${variant}@2x.png`))).toEqual({ width: 64, height: 64 });
    }
    expect(fs.statSync(path.join(ROOT, 'assets/icon.png')).size).toBeLessThan(64 * 1024);
  });
});

describe('an unpacked Linux build', () => {
  let tmp: string;
  let resources: string;
  let appAsar: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-pkg-'));
    node([path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--logLevel', 'warn']);
    // Stands in for Electron's binaries: electron-builder copies it and renames `electron`.
    const stub = path.join(tmp, 'electron-stub');
    fs.mkdirSync(stub);
    fs.writeFileSync(path.join(stub, 'electron'), '#!/bin/sh\necho "stub electron"\n', { mode: 0o755 });
    node([
      path.join(ROOT, 'node_modules/electron-builder/cli.js'), '--linux', 'dir', '--config', CONFIG,
      `-c.electronDist=${stub}`, `-c.electronVersion=${electronVersion}`, '-c.npmRebuild=false', `-c.directories.output=${path.join(tmp, 'release')}`,
    ]);
    resources = path.join(tmp, 'release', 'linux-unpacked', 'resources');
    appAsar = path.join(resources, 'app.asar');
  });
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('holds the app in the asar: main, preload, renderer and the manifest pointing at main', () => {
    const files = asar.listPackage(appAsar, { isPack: false }).map((f) => f.replace(/\\/g, '/'));
    for (const f of ['/out/main/index.js', '/out/preload/index.cjs', '/out/renderer/index.html', '/package.json', '/assets/icon.png', '/assets/tray-light.png', '/assets/tray-dark.png']) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.startsWith('/out/renderer/assets/') && f.endsWith('.js'))).toBe(true);
    const manifest = JSON.parse(asar.extractFile(appAsar, 'package.json').toString());
    expect(manifest.main).toBe('out/main/index.js');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.some((f) => f.startsWith('/node_modules/electron/'))).toBe(false);
    expect(files.some((f) => f.startsWith('/node_modules/better-sqlite3/deps/'))).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'release', 'linux-unpacked', 'boxkeep'))).toBe(true);
  });

  it('keeps better-sqlite3 and its native module unpacked beside the asar, where Electron can load it', () => {
    const native = path.join(resources, 'app.asar.unpacked', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    expect(fs.statSync(native).size).toBeGreaterThan(100_000);
    expect(fs.readFileSync(native).subarray(0, 4).toString('hex')).toBe('7f454c46');
    expect(fs.existsSync(path.join(resources, 'app.asar.unpacked', 'node_modules', 'better-sqlite3', 'lib', 'index.js'))).toBe(true);
    const entry = asar.statFile(appAsar, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node') as { unpacked?: boolean };
    expect(entry.unpacked).toBe(true);
  });

  it('ships a preload that runs with only "electron" to require and exposes verbs, not ipcRenderer', () => {
    const code = asar.extractFile(appAsar, 'out/preload/index.cjs').toString();
    const exposed: Array<[string, Record<string, unknown>]> = [];
    const invoked: Array<[string, unknown]> = [];
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => exposed.push([key, api]) },
      ipcRenderer: { invoke: async (channel: string, input: unknown) => (invoked.push([channel, input]), { ok: true, value: [] }), on() {}, off() {} },
    };
    const sandboxRequire = (name: string) => {
      if (name === 'electron') return electron;
      throw new Error(`a sandboxed preload cannot require ${name}`);
    };
    const module = { exports: {} };
    vm.runInNewContext(code, { require: sandboxRequire, module, exports: module.exports, console, TextEncoder, URL }, { filename: 'index.cjs' });
    expect(exposed.map(([key]) => key)).toEqual(['boxkeep']);
    const bridge = exposed[0]![1];
    expect(Object.keys(bridge.shell as object).sort()).toEqual(['pickArchiveFile', 'pickArchiveSavePath', 'pickImageFile']);
    expect(Object.keys(bridge).sort()).toEqual([...new Set(CHANNELS.map((c) => c.split(':')[0]!)), 'on'].sort());
    expect(JSON.stringify(Object.keys(bridge))).not.toMatch(/ipcRenderer|invoke|send/);
    return (bridge.boxes as { list(): Promise<unknown> }).list().then((reply) => {
      expect(reply).toEqual({ ok: true, value: [] });
      expect(invoked).toEqual([['boxes:list', {}]]);
    });
  });
});

describe('electronegativity', () => {
  it('finds no unreviewed medium or high issue in electron/', () => {
    const { result } = scanAndEvaluate(ROOT);
    expect(result.problems, JSON.stringify(result, null, 1)).toEqual([]);
    expect(result.ok).toBe(true);
  });
});
