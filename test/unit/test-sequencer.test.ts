// The order test files start in (test/setup/sequencer.ts): the longest of the last whole run
// first, so a fresh clone does not leave the minutes-long look-inside files to the very end.
import { describe, expect, it } from 'vitest';
import { longestFirst } from '../setup/sequencer.js';

describe('the test sequencer', () => {
  it('starts a file it does not know first, then the known ones longest first', () => {
    const seconds = { '_': 'a note', 'test/a.test.ts': 3, 'test/b.test.ts': 250, 'test/c.test.ts': 40, 'test/d.test.ts': 40 };
    expect(longestFirst(['test/a.test.ts', 'test/c.test.ts', 'test/new.test.ts', 'test/d.test.ts', 'test/b.test.ts'], seconds)).toEqual([
      'test/new.test.ts', 'test/b.test.ts', 'test/c.test.ts', 'test/d.test.ts', 'test/a.test.ts',
    ]);
  });
});
