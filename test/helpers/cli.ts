// The real `boxkeep` bin (bin/boxkeep.cjs, running dist/) as a child process, with --json.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeQcow2, requireTools, tempHome } from './disk.js';

export const BIN = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), 'bin', 'boxkeep.cjs');

export interface CliRun { code: number | null; data: unknown; error: { code?: string; message?: string } | null; stdout: string; stderr: string }

/** Runs the real command (with --json unless `text`). Never spawnSync: the owner under test lives in this process's event loop. */
export function cli(home: string, args: string[], opts: { node?: string[]; text?: boolean } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.node ?? []), BIN, '--home', home, ...(opts.text ? [] : ['--json']), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      let data: unknown = null;
      let error: { code?: string; message?: string } | null = null;
      try {
        data = JSON.parse(stdout);
      } catch {
        /* not JSON: the assertion on data shows it */
      }
      try {
        error = (JSON.parse(stderr.trim().split('\n').pop() ?? '') as { error: { code: string; message: string } }).error;
      } catch {
        /* no JSON error */
      }
      resolve({ code, data, error, stdout, stderr });
    });
  });
}

/** The same, synchronously, for tests with no owner in this process. */
export function cliSync(home: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, '--home', home, '--json', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** cliSync that must succeed; its JSON result. */
export function cliOk<T>(home: string, args: string[], env: NodeJS.ProcessEnv = {}): T {
  const r = cliSync(home, args, env);
  if (r.code !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

/**
 * A preload (node -r) that records which of the bundle's chunks a command ran (bin/cli-loader.cjs
 * compiles each with vm.Script); sources() reads them back after the command exited.
 */
export function chunkRecorder(dir: string): { node: string[]; sources(): string[] } {
  const out = path.join(dir, 'chunks.json');
  const preload = path.join(dir, 'chunks.cjs');
  fs.writeFileSync(preload, `const vm = require('node:vm'); const Script = vm.Script; const seen = [];
vm.Script = class extends Script { constructor(src, opts) { super(src, opts); seen.push(opts.filename); } };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(seen)));`);
  return { node: ['-r', preload], sources: () => (JSON.parse(fs.readFileSync(out, 'utf8')) as string[]).map((f) => fs.readFileSync(f, 'utf8')) };
}

/** A temporary home made through the bin: the image "seed" (a blank 16 MiB qcow2) and the box "web" made from it. */
export function cliHomeWithBox(prefix: string): { tmp: { dir: string; cleanup(): void }; home: string } {
  requireTools('qemu-img');
  const tmp = tempHome(prefix);
  const home = path.join(tmp.dir, 'home');
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, 16 * 1024 * 1024);
  cliOk(home, ['image', 'import', seed, '--name', 'seed']);
  cliOk(home, ['box', 'create', 'web', '--image', 'seed']);
  return { tmp, home };
}
