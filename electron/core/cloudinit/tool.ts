// The two host programs cloud-init needs (openssl, genisoimage), run with an argument array
// and no shell; a missing one is named with the Debian package that brings it.
import { childProcess } from '../builtins.js';
import { BoxkeepError } from '../../../shared/errors.js';

export const TOOL_PACKAGES = { openssl: 'openssl', genisoimage: 'genisoimage' } as const;
export type Tool = keyof typeof TOOL_PACKAGES;

/** stdout of a run that exited 0; stdin gets `input` (nothing else sees it: no argv, no env, no file). */
export function runTool(tool: Tool, args: string[], input = ''): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(tool, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT'
        ? new BoxkeepError('Internal', `${tool} was not found; cloud-init needs it: sudo apt-get install ${TOOL_PACKAGES[tool]}`)
        : new BoxkeepError('Internal', `${tool} could not be run: ${e.message}`, { cause: e }));
    });
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new BoxkeepError('Internal', `${tool} failed (exit ${code}): ${Buffer.concat(err).toString('utf8').trim().slice(-300)}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
