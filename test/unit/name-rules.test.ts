// The name rules every channel and the UI share (shared/names.ts): what a person is told when a
// name could be mistaken for something else.
import { describe, expect, it } from 'vitest';
import { nameProblem, shellWord, snapshotNameRule, someOf } from '../../shared/names.js';

describe('names that commands could mistake for something else', () => {
  it('a name of an id\'s form is refused, one character off it is a name; an archive\'s names are read under the older rules', () => {
    expect(nameProblem('0123456789ab', 'box name')).toBe('The box name "0123456789ab" has the form of an id (12 hex digits), and every command takes an id or a name, so the two could be confused; add a letter or a dash.');
    for (const fine of ['0123456789abc', '0123456789a', '0123456789AB', 'web-0123456789ab']) expect(nameProblem(fine), fine).toBeNull();
    expect(nameProblem('0123456789ab', 'name', { asRead: true })).toBeNull();
  });

  it('white space at either end is refused (it would have to be typed), inside a name it is fine', () => {
    expect(nameProblem(' lead', 'box name')).toBe('The box name " lead" starts or ends with white space, which would have to be typed too; remove it.');
    expect(nameProblem('trail\u00a0')).toContain('starts or ends with white space');
    expect(nameProblem('two words')).toBeNull();
    expect(nameProblem(' lead', 'name', { asRead: true })).toBeNull();
    // An invisible character is named as such, not as white space.
    expect(nameProblem('\ufeffbom')).toContain('U+FEFF');
  });

  it('a snapshot may not be called Now, in any case: that is the live disk', () => {
    for (const now of ['Now', 'now', 'NOW']) expect(snapshotNameRule(now)).toBe(`The snapshot name "${now}" is what Boxkeep calls the live disk ("Now", and "now" in snapshot diff); pick another name.`);
    expect(snapshotNameRule('Now and then')).toBeNull();
    expect(snapshotNameRule('')).toBe('The snapshot name must not be empty.');
    // A box may be called Now: nothing else is.
    expect(nameProblem('Now', 'box name')).toBeNull();
  });

  it('a long list in a message shows its first five and how many more', () => {
    expect(someOf(['a', 'b'])).toBe('a, b');
    expect(someOf(['1', '2', '3', '4', '5'])).toBe('1, 2, 3, 4, 5');
    expect(someOf(Array.from({ length: 17 }, (_, i) => String(i + 1)))).toBe('1, 2, 3, 4, 5, and 12 more');
  });

  it('a name in a suggested command is one shell word: as it is when plain, else single-quoted', () => {
    expect(shellWord('dev-1.2')).toBe('dev-1.2');
    expect(shellWord('tiny-1 clone')).toBe("'tiny-1 clone'");
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
    expect(shellWord('-x')).toBe("'-x'");
    expect(shellWord('$(rm -rf ~)')).toBe("'$(rm -rf ~)'");
  });
});
