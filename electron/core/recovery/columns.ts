// First of recovery: the JSON the database keeps in a column (store/columns.ts) that does not
// read. Before anything else reads a box's row: a box whose port forwards were changed by hand
// into something that is not a list of forwards would otherwise stop every box from being
// listed, recovery itself included. The value is written to orphans/ (durably, first: never
// lost) and the column reset: no forwards, no cloud-init seed, AutoProtect off. Reported
// against its box. Killed between the two steps, the next recovery keeps it a second time.
import path from 'node:path';
import type { HomeData } from '../deps.js';
import { mkdirDurable, writeFileDurable } from '../fsutil.js';
import { JSON_COLUMNS, readColumn, type JsonColumn } from '../store/columns.js';
import type { ReportBuilder } from './report.js';

interface Found { boxId: string; name: string | null; column: JsonColumn; raw: string }

export function repairJsonColumns(core: HomeData, report: ReportBuilder): void {
  const { db } = core.store;
  const found: Found[] = [];
  const boxes = db.prepare('SELECT id, name, forwards, cloud_init FROM boxes').all() as { id: string; name: string; forwards: string; cloud_init: string | null }[];
  const names = new Map(boxes.map((b) => [b.id, b.name]));
  for (const b of boxes) {
    found.push({ boxId: b.id, name: b.name, column: 'forwards', raw: b.forwards });
    if (b.cloud_init !== null) found.push({ boxId: b.id, name: b.name, column: 'cloud_init', raw: b.cloud_init });
  }
  for (const p of db.prepare('SELECT box_id, policy FROM protect').all() as { box_id: string; policy: string }[]) {
    found.push({ boxId: p.box_id, name: names.get(p.box_id) ?? null, column: 'policy', raw: p.policy });
  }
  for (const f of found) {
    const r = readColumn(f.column, String(f.raw));
    if (!('problem' in r)) continue;
    const { table, label, reset } = JSON_COLUMNS[f.column];
    mkdirDurable(core.paths.orphansDir);
    const kept = path.join(core.paths.orphansDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-box-${f.boxId}-${f.column}.json`);
    writeFileDurable(kept, String(f.raw));
    if (table === 'protect') db.prepare('DELETE FROM protect WHERE box_id = ?').run(f.boxId);
    else db.prepare(`UPDATE boxes SET ${f.column} = ? WHERE id = ?`).run(reset, f.boxId);
    const whose = f.name === null ? `the box ${f.boxId}` : `the box ${JSON.stringify(f.name)}`;
    const now = f.column === 'forwards' ? 'it now has no port forwards' : f.column === 'cloud_init' ? 'it now starts with no cloud-init seed' : 'AutoProtect is now off for it';
    report.repaired(f.boxId, `The ${label} the database kept for ${whose} could not be read (${r.problem}); the value was kept in ${kept} and ${now}.`);
  }
}
