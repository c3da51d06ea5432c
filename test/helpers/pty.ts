// Runs a command on a real pseudo-terminal (Python's pty module: no npm pty package), answering
// a prompt when it appears. For the CLI paths that only a person at a terminal sees.
import { spawnSync } from 'node:child_process';

const DRIVER = `
import json, os, pty, select, sys
argv, prompt, answer, env = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(argv[0], argv, env)
out, sent = b'', False
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
    if not sent and answer is not None and prompt.encode() in out:
        os.write(fd, b'\\x04' if answer == '<EOF>' else answer.encode())
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(json.dumps({'out': out.decode('utf8', 'replace'), 'code': os.waitstatus_to_exitcode(status)}))
`;

export interface PtyRun {
  /** Everything the terminal showed (stdout and stderr together, CRLF line ends). */
  out: string;
  code: number;
}

/** `answer` is typed once `prompt` shows up ('<EOF>' sends Ctrl+D); null answers nothing. */
export function runOnPty(argv: string[], opts: { prompt?: string; answer?: string | null; env?: NodeJS.ProcessEnv } = {}): PtyRun {
  const r = spawnSync('python3', ['-c', DRIVER, JSON.stringify([argv, opts.prompt ?? '', opts.answer ?? null, opts.env ?? process.env])], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`python3 is needed to drive a pseudo-terminal: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`the pty driver failed: ${r.stderr}`);
  const run = JSON.parse(r.stdout) as PtyRun;
  return { ...run, out: run.out.replace(/\r\n/g, '\n') };
}
