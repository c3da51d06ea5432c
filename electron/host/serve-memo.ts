// What `boxkeep serve` remembers between runs, in <home>/serve.json: the port it listened on
// and its access token. A page left open across a restart then reconnects by itself.
//
// Keeping the token is a trade-off, made on purpose: it guards the WebSocket against other
// users and programs on this machine that can reach 127.0.0.1 but not the home. The file sits
// in the home (0700) with mode 0600, so whoever can read it can already read and write every
// disk there: storing it grants nobody new access. The cost is that a leaked address stays
// valid across restarts; `boxkeep serve --new-token` retires it.
import fs from 'node:fs';
import path from 'node:path';

export interface ServeMemo {
  port: number;
  token: string;
}

const file = (home: string) => path.join(home, 'serve.json');

export function readServeMemo(home: string): ServeMemo | null {
  try {
    const memo = JSON.parse(fs.readFileSync(file(home), 'utf8')) as Partial<ServeMemo>;
    const portOk = Number.isInteger(memo.port) && memo.port! > 0 && memo.port! <= 65535;
    const tokenOk = typeof memo.token === 'string' && /^[\w-]{16,200}$/.test(memo.token);
    return portOk && tokenOk ? { port: memo.port!, token: memo.token! } : null;
  } catch {
    return null;
  }
}

/** Best effort: not remembering only costs the next run a new address. */
export function writeServeMemo(home: string, memo: ServeMemo): void {
  const target = file(home);
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(memo) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, target);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
