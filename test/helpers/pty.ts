// Runs a command on a real pseudo-terminal (Python's pty module: no npm pty package), answering
// a prompt when it appears. For the CLI paths that only a person at a terminal sees.
import { spawnSync } from 'node:child_process';

const DRIVER = `
import json, os, pty, select, sys
argv, steps, env = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(argv[0], argv, env)
out, step, seen = b'', 0, 0
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    # Each step waits for its prompt after where the previous one was found, then types its answer.
    while step < len(steps):
        prompt, answer = steps[step]
        at = out.find(prompt.encode(), seen)
        if at < 0:
            break
        seen = at + len(prompt.encode())
        os.write(fd, b'\\x04' if answer == '<EOF>' else answer.encode())
        step += 1
_, status = os.waitpid(pid, 0)
sys.stdout.write(json.dumps({'out': out.decode('utf8', 'replace'), 'code': os.waitstatus_to_exitcode(status)}))
`;

export interface PtyRun {
  /** Everything the terminal showed (stdout and stderr together, CRLF line ends). */
  out: string;
  code: number;
}

/**
 * `answer` is typed once `prompt` shows up ('<EOF>' sends Ctrl+D); null answers nothing. `steps`
 * is a dialogue: each answer is typed once its prompt shows up after the previous prompt.
 */
export function runOnPty(argv: string[], opts: { prompt?: string; answer?: string | null; steps?: Array<[string, string]>; env?: NodeJS.ProcessEnv } = {}): PtyRun {
  const steps = opts.steps ?? (opts.answer != null ? [[opts.prompt ?? '', opts.answer]] : []);
  const r = spawnSync('python3', ['-c', DRIVER, JSON.stringify([argv, steps, opts.env ?? process.env])], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`python3 is needed to drive a pseudo-terminal: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`the pty driver failed: ${r.stderr}`);
  const run = JSON.parse(r.stdout) as PtyRun;
  return { ...run, out: run.out.replace(/\r\n/g, '\n') };
}
