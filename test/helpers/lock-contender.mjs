// One of several processes that try to take the same home lock at the same instant.
// usage: node lock-contender.mjs <lock file> <holders dir>   (forked with an IPC channel)
// Each message {round, at, holdMs} says when to try: the process waits for that instant, tries, and
// while it holds the lock it checks that no other process says it holds it too: it writes its
// pid into <holders dir>, looks, waits a little, looks again, and only then lets go.
// Replies {round, held, overlap, refused: {code, message} | null}.
import fs from 'node:fs';
import path from 'node:path';
import { HomeLock } from '../../dist/electron/core/lock.js';

const [lockFile, holdersDir] = process.argv.slice(2);
const mine = path.join(holdersDir, String(process.pid));
const others = () => fs.readdirSync(holdersDir).filter((n) => n !== String(process.pid));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

process.on('message', async ({ round, at, holdMs }) => {
  await sleep(Math.max(0, at - Date.now() - 5));
  while (Date.now() < at) { /* spin the last milliseconds so every contender starts together */ }
  let lock;
  try {
    lock = HomeLock.acquire(lockFile, 'test');
  } catch (err) {
    process.send({ round, held: false, overlap: [], refused: { code: err.code ?? 'none', message: err.message } });
    return;
  }
  fs.writeFileSync(mine, '');
  const overlap = others();
  await sleep(holdMs);
  overlap.push(...others());
  fs.rmSync(mine);
  lock.release();
  process.send({ round, held: true, overlap, refused: null });
});
process.send({ ready: true });
