// The test guest's stall probe (scripts/guest-probe.sh) run by busybox ash, as the guest runs
// it: stamps of the clock to the microsecond, at most one per millisecond, in order.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { requireTools } from '../helpers/disk.js';

it('the stall probe prints increasing microsecond stamps, one per millisecond', () => {
  requireTools('busybox', 'timeout');
  const r = spawnSync('timeout', ['0.5', 'busybox', 'ash', 'scripts/guest-probe.sh'], { encoding: 'utf8' });
  // The last line may be cut off by the kill.
  const lines = r.stdout.split('\n').slice(0, -1);
  const ms = lines.map((line) => {
    const m = /^PROBE (\d+)\.(\d{6})$/.exec(line);
    expect(m, line).not.toBeNull();
    return Number(m![1]) * 1000 + Math.floor(Number(m![2]) / 1000);
  });
  expect(ms.length).toBeGreaterThan(50);
  for (let i = 1; i < ms.length; i++) expect(ms[i]! > ms[i - 1]!, `${lines[i - 1]} then ${lines[i]}`).toBe(true);
});
