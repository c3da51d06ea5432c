import { describe, expect, it } from 'vitest';
import { parseSize } from '../../shared/bytes.js';

describe('parseSize reads sizes the way people type them for --disk-reserve and the Settings dialog', () => {
  it('takes binary units with or without "iB", and bare bytes', () => {
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('64k')).toBe(64 * 1024);
    expect(parseSize(' 3 TB ')).toBe(3 * 1024 ** 4);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('0')).toBe(0);
  });

  it('refuses what is not a size', () => {
    for (const bad of ['', 'lots', '-1G', '2X', '1e9', 'G', '2 G B', '9'.repeat(30) + 'T']) expect(parseSize(bad), bad).toBeNull();
  });
});
