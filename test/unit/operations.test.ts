// The table of operation kinds (electron/core/operations.ts) is the one list of crash points
// and intent schemas: the points the code stops at must be exactly the points the table
// declares, and a record is checked against its kind's schema before recovery acts on it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CRASH_POINTS, OPERATIONS, intentProblem, knownOperation } from '../../electron/core/operations.js';

const CORE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../electron/core');

function coreSources(): string[] {
  return (fs.readdirSync(CORE, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => fs.readFileSync(path.join(CORE, f), 'utf8'));
}

describe('operation table', () => {
  it('lists every crash point the code stops at, and no other', () => {
    const texts = coreSources();
    // `export const snapshotCreate = intentKind('snapshot-create', …`: variable → operation.
    const opOf = new Map<string, string>();
    for (const t of texts) for (const m of t.matchAll(/export const (\w+) = intentKind\(\s*'([a-z-]+)'/g)) opOf.set(m[1]!, m[2]!);
    const reached = new Set<string>();
    for (const t of texts) {
      for (const m of t.matchAll(/\b(\w+)\.crash\('([a-z-]+)'\)/g)) {
        const op = opOf.get(m[1]!);
        expect(op, `${m[1]}.crash('${m[2]}') names no operation kind`).toBeDefined();
        reached.add(`${op}:${m[2]}`);
      }
      if (/\.journaled\(/.test(t)) for (const m of t.matchAll(/\b(\w+)\.journaled\(/g)) if (opOf.has(m[1]!)) reached.add(`${opOf.get(m[1]!)}:after-intent`);
      // Points outside a journaled kind (a start's, which changes nothing on disk) are listed too.
      for (const m of t.matchAll(/\bcrashPoint\('([a-z-]+:[a-z-]+)'\)/g)) reached.add(m[1]!);
    }
    expect([...reached].sort()).toEqual([...CRASH_POINTS].sort());
    expect(new Set(CRASH_POINTS).size).toBe(CRASH_POINTS.length);
    expect(opOf.size).toBe(OPERATIONS.length);
  });

  it('checks a record against its kind: ids must be ids and paths inside the home', () => {
    const home = '/home/u/boxkeep';
    const ok = { id: '0123456789ab', op: 'snapshot-restore', startedAt: 1, boxId: '0123456789ac', snapshotId: '0123456789ad', snapshotPath: `${home}/boxes/0123456789ac/snapshots/0123456789ad/container.qcow2`, previousCurrentId: null };
    expect(intentProblem(home, ok)).toBeNull();
    expect(intentProblem(home, { ...ok, snapshotPath: '/etc/passwd' })).toMatch(/^snapshotPath: a path outside the home/);
    expect(intentProblem(home, { ...ok, boxId: '../x' })).toMatch(/^boxId:/);
    // An operation this build does not know is not malformed: it is kept for a newer Boxkeep.
    expect(intentProblem(home, { id: 'a1', op: 'box-teleport', startedAt: 1 })).toBeNull();
    expect(knownOperation('box-teleport')).toBe(false);
    expect(OPERATIONS.every(({ kind }) => knownOperation(kind.op) && kind.crashPoints[0] === 'after-intent')).toBe(true);
  });
});
