// The test guest's stall probe (scripts/guest-probe.sh) run by busybox ash, as the guest runs
// it: stamps of the clock to the microsecond, at most one per millisecond, in order.
import { spawn, spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { requireTools } from '../helpers/disk.js';

const WANT = 60;

it('the stall probe prints increasing microsecond stamps, one per millisecond', async () => {
  requireTools('busybox');
  // The probe reads the clock from ash's EPOCHREALTIME; without it the loop prints nothing.
  const clock = spawnSync('busybox', ['ash', '-c', 'echo "$EPOCHREALTIME"'], { encoding: 'utf8' });
  expect(clock.stdout.trim(), 'busybox ash has no EPOCHREALTIME (needs busybox 1.34 or later)').toMatch(/^\d+\.\d{6}$/);

  // Read until WANT whole lines have come, then stop it: a loaded CI machine may take a while
  // to start the shell (a fixed 0.5 s once saw no line at all). 20 s at most.
  const child = spawn('busybox', ['ash', 'scripts/guest-probe.sh'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); child.kill('SIGKILL'); resolve(); };
    const timer = setTimeout(done, 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').length > WANT) done();
    });
    child.on('exit', done);
  });
  // The last line may be cut off by the kill.
  const lines = out.split('\n').slice(0, -1);
  expect(lines.length, `the probe printed ${lines.length} whole lines in 20 s; stderr: ${err}`).toBeGreaterThanOrEqual(WANT);
  const ms = lines.map((line) => {
    const m = /^PROBE (\d+)\.(\d{6})$/.exec(line);
    expect(m, line).not.toBeNull();
    return Number(m![1]) * 1000 + Math.floor(Number(m![2]) / 1000);
  });
  for (let i = 1; i < ms.length; i++) expect(ms[i]! > ms[i - 1]!, `${lines[i - 1]} then ${lines[i]}`).toBe(true);
}, 30_000);
