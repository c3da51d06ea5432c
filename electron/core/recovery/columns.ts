// First of recovery: the JSON the database keeps in a column (store/columns.ts) that does not
// read. Before anything else reads a box's row: a box whose port forwards were changed by hand
// into something that is not a list of forwards would otherwise stop every box from being
// listed, recovery itself included. The value is written to orphans/ (its bytes as the database
// holds them, durably, first: never lost) and the column reset: no forwards, no cloud-init seed,
// AutoProtect off; a running box's changed settings take effect at its next start, as any
// edit's do. Reported against its box. Killed between the two steps, the next recovery keeps it
// a second time.
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { HomeData } from '../deps.js';
import { mkdirDurable, writeFileDurable } from '../fsutil.js';
import { JSON_COLUMNS, readColumn, type JsonColumn } from '../store/columns.js';
import type { ReportBuilder } from './report.js';

interface Unreadable { boxId: string; name: string | null; column: JsonColumn; raw: Buffer; problem: string }

/**
 * Every JSON column value that does not read, read as the store reads it (an empty or NULL
 * cloud-init is none), its bytes as the database holds them (a text that is not UTF-8 kept as it is).
 */
export function unreadableColumns(db: Database.Database): Unreadable[] {
  const found: Omit<Unreadable, 'problem'>[] = [];
  const boxes = db.prepare('SELECT id, name, CAST(forwards AS BLOB) AS forwards, CAST(cloud_init AS BLOB) AS cloud_init FROM boxes').all() as { id: string; name: string; forwards: Buffer | null; cloud_init: Buffer | null }[];
  const names = new Map(boxes.map((b) => [b.id, b.name]));
  for (const b of boxes) {
    found.push({ boxId: b.id, name: b.name, column: 'forwards', raw: b.forwards ?? Buffer.alloc(0) });
    if (b.cloud_init && b.cloud_init.length > 0) found.push({ boxId: b.id, name: b.name, column: 'cloud_init', raw: b.cloud_init });
  }
  for (const p of db.prepare('SELECT box_id, CAST(policy AS BLOB) AS policy FROM protect').all() as { box_id: string; policy: Buffer | null }[]) {
    found.push({ boxId: p.box_id, name: names.get(p.box_id) ?? null, column: 'policy', raw: p.policy ?? Buffer.alloc(0) });
  }
  return found.flatMap((f) => {
    const r = readColumn(f.column, f.raw.toString('utf8'));
    return 'problem' in r ? [{ ...f, problem: r.problem }] : [];
  });
}

export function repairJsonColumns(core: HomeData, report: ReportBuilder): void {
  const { db } = core.store;
  for (const f of unreadableColumns(db)) {
    const { table, label, reset } = JSON_COLUMNS[f.column];
    mkdirDurable(core.paths.orphansDir);
    const kept = path.join(core.paths.orphansDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-box-${f.boxId}-${f.column}.json`);
    writeFileDurable(kept, f.raw);
    if (table === 'protect') db.prepare('DELETE FROM protect WHERE box_id = ?').run(f.boxId);
    else db.prepare(`UPDATE boxes SET ${f.column} = ?, pending_restart = CASE WHEN status IN ('running', 'paused', 'stopping') THEN 1 ELSE pending_restart END WHERE id = ?`).run(reset, f.boxId);
    const whose = f.name === null ? `the box ${f.boxId}` : `the box ${JSON.stringify(f.name)}`;
    const now = f.column === 'forwards' ? 'it now has no port forwards' : f.column === 'cloud_init' ? 'it now starts with no cloud-init seed' : 'AutoProtect is now off for it';
    report.repaired(f.boxId, `The ${label} the database kept for ${whose} could not be read (${f.problem}); the value was kept in ${kept} and ${now}.`);
  }
}
