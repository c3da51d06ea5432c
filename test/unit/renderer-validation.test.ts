import { describe, expect, it } from 'vitest';
import { BoxkeepError } from '../../shared/errors.js';
import type { Snapshot } from '../../shared/types.js';
import { parseInput } from '../../shared/validate.js';
import { freeSnapshotName } from '../../shared/names.js';
import { fieldProblems, numberField, snapshotNameProblem } from '../../renderer/src/validation.js';

const snapshot = (id: string, name: string) => ({ id, name }) as Snapshot;

function mainProcessSays(channel: Parameters<typeof parseInput>[0], input: unknown): string {
  try {
    parseInput(channel, input);
  } catch (err) {
    return (err as BoxkeepError).message;
  }
  return '';
}

describe('inline validation', () => {
  it('says what the main process would about port forwards, network and stop timeout in the Edit dialog', () => {
    const labels = { stopTimeoutSec: 'Stop timeout (seconds)' };
    for (const input of [
      { box: 'b', forwards: ['8080:80', '8080:22'] },
      { box: 'b', forwards: ['localhost:8080:80'] },
      { box: 'b', network: 'bridge' },
      { box: 'b', stopTimeoutSec: 0 },
    ]) {
      const inline = Object.values(fieldProblems('boxes:update', input, labels))[0];
      expect(inline, JSON.stringify(input)).toBeTruthy();
      expect(mainProcessSays('boxes:update', input).replace('The stop timeout', labels.stopTimeoutSec)).toContain(inline);
    }
    expect(fieldProblems('boxes:update', { box: 'b', forwards: ['8080:80', '8080:22'] }).forwards).toMatch(/"8080:22" uses the host port 8080\/tcp/);
    expect(fieldProblems('boxes:update', { box: 'b', stopTimeoutSec: 0 }, labels).stopTimeoutSec).toBe('Stop timeout (seconds) must be at least 1 s.');
    expect(fieldProblems('boxes:update', { box: 'b', network: 'none', forwards: ['0.0.0.0:2222:22/tcp'], stopTimeoutSec: 5 })).toEqual({});
  });

  it('says exactly what the main process would say about a bad box name', () => {
    for (const name of ['', '   ', '.hidden', 'a/b', 'tab\there', 'x'.repeat(300)]) {
      const inline = fieldProblems('boxes:create', { name, image: 'img' });
      expect(inline.name).toBeTruthy();
      expect(mainProcessSays('boxes:create', { name, image: 'img' })).toContain(inline.name);
    }
    expect(fieldProblems('boxes:create', { name: 'dev box', image: 'img' })).toEqual({});
  });

  it('reports each bad field of the new-box form once, with its limit', () => {
    const p = fieldProblems('boxes:create', { name: 'ok', image: 'img', cpus: 0, memoryMib: 8, diskSizeGiB: 1.5 });
    expect(p.cpus).toBe('The CPU count must be at least 1.');
    expect(p.memoryMib).toBe('The memory must be at least 16 MiB.');
    expect(p.diskSizeGiB).toBe('The disk size must be a whole number.');
    expect(fieldProblems('boxes:create', { name: 'ok', image: 'img', cpus: numberField('two') }).cpus).toBe('The CPU count must be a number.');
  });

  it('names each field by the form\'s label, and the main process never by its internal key', () => {
    const labels = { cpus: 'CPUs', memoryMib: 'Memory (MiB)', diskSizeGiB: 'Disk size (GiB)' };
    const bad = { name: 'ok', image: 'img', cpus: 0, memoryMib: 8, diskSizeGiB: 1.5 };
    expect(fieldProblems('boxes:create', bad, labels)).toEqual({
      cpus: 'CPUs must be at least 1.',
      memoryMib: 'Memory (MiB) must be at least 16 MiB.',
      diskSizeGiB: 'Disk size (GiB) must be a whole number.',
    });
    for (const [channel, input] of [
      ['boxes:create', { name: 'ok', image: 'img', memoryMib: 8 }],
      ['boxes:create', { name: 'ok', image: 'img', diskSizeGiB: 'big' }],
      ['boxes:console', { box: 'b', lines: 0 }],
      ['boxes:stop', { box: 'b', force: 'yes' }],
      ['snapshots:restore', { box: 'b', snapshot: 's', snapshotCurrentFirst: 1 }],
    ] as const) {
      const said = mainProcessSays(channel, input);
      expect(said, channel).toMatch(/^The /);
      expect(said, channel).not.toMatch(/memoryMib|diskSizeGiB|snapshotCurrentFirst|lines:|force:/);
    }
  });

  it('says which invisible character a name holds, as the main process does', () => {
    const inline = fieldProblems('boxes:create', { name: 'report\u202Eexe.txt', image: 'img' });
    expect(inline.name).toBe('The box name "report\\u202Eexe.txt" contains U+202E RIGHT-TO-LEFT OVERRIDE, an invisible formatting character; remove it.');
    expect(mainProcessSays('boxes:create', { name: 'report\u202Eexe.txt', image: 'img' })).toBe(inline.name);
    expect(snapshotNameProblem('soft\u00ADhyphen', [])).toContain('U+00AD SOFT HYPHEN, an invisible formatting character');
    expect(snapshotNameProblem('\uFEFFbom', [])).toContain('U+FEFF ZERO WIDTH NO-BREAK SPACE (BYTE ORDER MARK)');
  });

  it('snapshot names follow the shared rule and must be unique in the box', () => {
    const siblings = [snapshot('1', 'before upgrade')];
    expect(snapshotNameProblem('ok', siblings)).toBeNull();
    expect(snapshotNameProblem('', siblings)).toBe('The snapshot name must not be empty.');
    expect(snapshotNameProblem('a/b', siblings)).toContain('slashes are not allowed');
    expect(snapshotNameProblem('before upgrade', siblings)).toBe('This box already has a snapshot named "before upgrade"; pick another name.');
    // Renaming a snapshot to its own name is fine.
    expect(snapshotNameProblem('before upgrade', siblings, '1')).toBeNull();
  });

  it('number fields keep non-numbers as text so the schema names the problem', () => {
    expect(numberField('')).toBeUndefined();
    expect(numberField(' 4 ')).toBe(4);
    expect(numberField('4x')).toBe('4x');
  });

  it('prefills a snapshot name no sibling has: a second snapshot within one second is numbered', () => {
    const base = '2026-11-30 19:40:50';
    const among = (siblings: { name: string }[]) => (name: string) => siblings.some((s) => s.name === name);
    expect(freeSnapshotName(base, among([snapshot('a', 'other')]))).toBe(base);
    expect(freeSnapshotName(base, among([snapshot('a', base)]))).toBe(`${base} (2)`);
    const taken = [snapshot('a', base), snapshot('b', `${base} (2)`)];
    expect(freeSnapshotName(base, among(taken))).toBe(`${base} (3)`);
    expect(snapshotNameProblem(freeSnapshotName(base, among(taken)), taken)).toBeNull();
  });
});
