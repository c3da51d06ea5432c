// `box protect`, `snapshot pin|unpin` and what `box show` / `snapshot list` say about them, with
// the real bin against a temporary home.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtectStatus, Snapshot } from '../../shared/types.js';
import { BIN, cliHomeWithBox, cliOk, cliSync } from '../helpers/cli.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
const human = (...args: string[]) => spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 60_000 });

beforeAll(() => {
  ({ tmp, home } = cliHomeWithBox('bkp'));
});
afterAll(() => tmp?.cleanup());

describe('box protect', () => {
  it('is off by default, and box show says so', () => {
    expect(cliOk<ProtectStatus>(home, ['box', 'protect', 'web', '--off']).policy.enabled).toBe(false);
    expect(human('box', 'show', 'web').stdout).toMatch(/AutoProtect:\s+off/);
  });

  it('sets the policy the flags name, and box show prints it with the next run', () => {
    const s = cliOk<ProtectStatus>(home, ['box', 'protect', 'web', '--every', '1h30m', '--daily', '02:00', '--before-stop', '--keep-last', '10', '--keep-daily', '7']);
    expect(s.policy).toEqual({ enabled: true, everyMinutes: 90, dailyAt: '02:00', beforeStop: true, keepLast: 10, keepHourly: 0, keepDaily: 7, keepWeekly: 0, keepMonthly: 0 });
    // A stopped box has no next run until it runs.
    expect(s.nextRunAt).toBeNull();
    expect(human('box', 'show', 'web').stdout).toMatch(/AutoProtect:\s+every 1 h 30 min of running time, daily at 02:00, before each stop; keeps 10 last, 7 daily; next automatic snapshot once the box runs/);
  });

  it('--preset turns on the one-click policy; --off keeps it for later but stops the schedule', () => {
    const on = cliOk<ProtectStatus>(home, ['box', 'protect', 'web', '--preset']);
    expect(on.policy).toMatchObject({ enabled: true, everyMinutes: 60, beforeStop: true, keepLast: 5, keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 });
    const off = cliOk<ProtectStatus>(home, ['box', 'protect', 'web', '--off']);
    expect(off.policy).toMatchObject({ enabled: false, everyMinutes: 60 });
    expect(cliOk<ProtectStatus>(home, ['box', 'show', 'web']) && human('box', 'show', 'web').stdout).toMatch(/AutoProtect:\s+off/);
  });

  it('refuses bad input with a clear message and changes nothing', () => {
    cliOk<ProtectStatus>(home, ['box', 'protect', 'web', '--every', '30m', '--keep-last', '4']);
    const policyLine = () => /AutoProtect:.*/.exec(human('box', 'show', 'web').stdout)?.[0];
    const before = policyLine();
    expect(before).toMatch(/every 30 min of running time; keeps 4 last/);
    const cases: [string[], RegExp][] = [
      [['--every', '30x'], /--every "30x" is not a duration; write it as 30m, 2h or 1h30m/],
      [['--every', '0m'], /--every must be at least 1/],
      [['--daily', '25:00'], /not a time of day/],
      [['--keep-last', '-1'], /--keep-last must be a whole number/],
      [['--keep-monthly', '10001'], /--keep-monthly must be at most 10000/],
      [['--off', '--every', '5m'], /--off turns AutoProtect off; give it alone/],
      [[], /Say what to do/],
      [['--keep-last', '3'], /AutoProtect needs a schedule/],
    ];
    for (const [flags, message] of cases) {
      const r = cliSync(home, ['box', 'protect', 'web', ...flags]);
      expect(r.code, flags.join(' ')).toBe(2);
      expect((JSON.parse(r.err) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(message) });
    }
    // Read back without setting it again: each refusal left the policy as it was.
    expect(policyLine()).toBe(before);
  });
});

describe('snapshot pin', () => {
  it('pins and unpins a snapshot; the tree and snapshot show mark it', () => {
    cliOk(home, ['snapshot', 'create', 'web', 'base']);
    expect(cliOk<Snapshot>(home, ['snapshot', 'pin', 'web', 'base']).pinned).toBe(true);
    expect(human('snapshot', 'list', 'web').stdout).toMatch(/base \(pinned\)/);
    expect(human('snapshot', 'show', 'web', 'base').stdout).toMatch(/Kept:\s+pinned: AutoProtect never prunes it/);
    expect(human('snapshot', 'unpin', 'web', 'base').stdout).toMatch(/Snapshot "base" \(\w+\) is not pinned\./);
    expect(cliOk<Snapshot>(home, ['snapshot', 'show', 'web', 'base']).pinned).toBe(false);
    const missing = cliSync(home, ['snapshot', 'pin', 'web', 'nope']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/has no snapshot called \\"nope/);
  });
});
