import { describe, expect, it } from 'vitest';
import { boxFileName, exactTime, formatBytes, formatMemory, plural, relativeTime, statusLabel } from '../../renderer/src/format.js';
import { nameProblem } from '../../shared/names.js';

describe('renderer formatting', () => {
  it('sizes read in IEC units with at most three significant figures', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(196_608)).toBe('192 KiB');
    expect(formatBytes(20 * 1024 ** 3)).toBe('20 GiB');
    expect(formatBytes(1.456 * 1024 ** 3)).toBe('1.46 GiB');
    expect(formatBytes(14.56 * 1024 ** 3)).toBe('14.6 GiB');
    expect(formatBytes(-5)).toBe('unknown size');
    expect(formatBytes(Number.NaN)).toBe('unknown size');
  });

  it('whole numbers keep their zeros and every unit boundary reads right', () => {
    expect(formatBytes(593_920)).toBe('580 KiB');
    expect(formatBytes(100 * 1024 ** 3)).toBe('100 GiB');
    expect(formatBytes(120 * 1024 ** 2)).toBe('120 MiB');
    expect(formatBytes(10)).toBe('10 bytes');
    expect(formatBytes(100)).toBe('100 bytes');
    expect(formatBytes(1000)).toBe('1000 bytes');
    expect(formatBytes(1020)).toBe('1020 bytes');
    expect(formatBytes(10 * 1024)).toBe('10 KiB');
    expect(formatBytes(100 * 1024)).toBe('100 KiB');
    expect(formatBytes(1000 * 1024)).toBe('1000 KiB');
    expect(formatBytes(1020 * 1024)).toBe('1020 KiB');
    expect(formatBytes(0.5 * 1024 ** 2)).toBe('512 KiB');
    expect(formatBytes(0.5 * 1024 ** 3)).toBe('512 MiB');
    expect(formatBytes(1.5 * 1024 ** 2)).toBe('1.5 MiB');
    expect(formatBytes(2.5 * 1024)).toBe('2.5 KiB');
    // Unit boundaries: just under rounds up into the next unit, never "1024 KiB".
    expect(formatBytes(1024 ** 2 - 1)).toBe('1 MiB');
    expect(formatBytes(1024 ** 2)).toBe('1 MiB');
    expect(formatBytes(1024 ** 3 - 1)).toBe('1 GiB');
    expect(formatBytes(1024 ** 3)).toBe('1 GiB');
    expect(formatBytes(1024 ** 4)).toBe('1 TiB');
    expect(formatBytes(1024 ** 5)).toBe('1 PiB');
    expect(formatBytes(2048 * 1024 ** 5)).toBe('2048 PiB');
  });

  it('memory shows whole GiB when it is one', () => {
    expect(formatMemory(512)).toBe('512 MiB');
    expect(formatMemory(2048)).toBe('2 GiB');
    expect(formatMemory(1536)).toBe('1536 MiB');
  });

  it('relative times read like a person says them', () => {
    const now = new Date(2026, 10, 30, 18, 0, 0).getTime();
    expect(relativeTime(now - 5_000, now)).toBe('just now');
    expect(relativeTime(now - 60_000, now)).toBe('1 minute ago');
    expect(relativeTime(now - 5 * 60_000, now)).toBe('5 minutes ago');
    expect(relativeTime(now - 3_600_000, now)).toBe('1 hour ago');
    expect(relativeTime(now - 5 * 3_600_000, now)).toBe('5 hours ago');
    expect(relativeTime(new Date(2026, 10, 29, 9, 0).getTime(), now)).toBe('yesterday');
    expect(relativeTime(new Date(2026, 10, 27, 9, 0).getTime(), now)).toBe('3 days ago');
    expect(relativeTime(new Date(2026, 9, 2, 9, 0).getTime(), now)).toBe('on Oct 2');
    expect(relativeTime(new Date(2025, 9, 2, 9, 0).getTime(), now)).toBe('on Oct 2, 2025');
    // A clock that moved backwards must not produce "in 5 minutes".
    expect(relativeTime(now + 10 * 60_000, now)).toBe('on Nov 30');
  });

  it('exact times are zero-padded local time', () => {
    expect(exactTime(new Date(2026, 0, 5, 7, 8, 9).getTime())).toBe('2026-01-05 07:08:09');
  });

  it('every status has words next to its colour', () => {
    expect(statusLabel('running')).toBe('Running');
    expect(statusLabel('failed')).toBe('Failed');
    expect(statusLabel('configured')).toBe('Never started');
    expect(plural(1, 'snapshot')).toBe('1 snapshot');
    expect(plural(1000, 'snapshot')).toBe('1,000 snapshots');
  });

  it('names a file saved from a box after the box, with what file systems refuse replaced and within 255 bytes', () => {
    expect(boxFileName('web', '-screen.png')).toBe('web-screen.png');
    expect(boxFileName('a:b*c?"d<e>f|g', '-screen.png')).toBe('a_b_c__d_e_f_g-screen.png');
    expect(nameProblem('a:b*c?"d<e>f|g')).toBe(null);
    const long = 'é'.repeat(127) + 'x';
    expect(nameProblem(long)).toBe(null);
    const file = boxFileName(long, '-screen.png');
    expect(new TextEncoder().encode(file).length).toBeLessThanOrEqual(255);
    expect(file).toBe('é'.repeat(122) + '-screen.png');
  });
});
