// `boxkeep recover --discard <id>`: the way out of an intent record recovery keeps, which
// otherwise locks its box for good (an operation this build does not know, or one it cannot
// finish). Discarding deletes the record and nothing else: the operation is neither finished
// nor undone, and its files stay as they are. Recovery's checks (reconcile.ts), which run
// whenever the home is opened, record or not, make rows and files agree: a snapshot folder no
// row knows goes to orphans/ unless a disk backs onto it, a leftover temporary disk is removed,
// and what they cannot place is reported.
import { invalidState, notFound } from '../../../shared/errors.js';
import type { HomeData } from '../deps.js';
import { removeDurable } from '../fsutil.js';
import { readIntents } from '../journal.js';
import { knownOperation } from '../operations.js';
import type { ReportBuilder } from './report.js';

export function discardIntent(core: HomeData, id: string, opts: { force: boolean }, report: ReportBuilder): void {
  const journals = [core.paths.homeJournal, ...core.store.listBoxes().map((b) => core.paths.boxJournal(b.id))];
  for (const dir of journals) {
    const found = readIntents(dir).intents.find((i) => i.intent.id === id);
    if (!found) continue;
    const { op } = found.intent;
    // A record this build knows is finished or undone by recovery itself: discarding it halfway
    // (a half-merged snapshot) can leave a chain nothing repairs, so it takes --force.
    const known = knownOperation(op);
    if (known && !opts.force) {
      throw invalidState(`The unfinished operation ${id} is a ${op}, which recovery finishes by itself: run "boxkeep recover" and read what it reports. Discarding it could leave a snapshot half merged; if you are sure, add --force.`);
    }
    const boxId = typeof found.intent.boxId === 'string' ? found.intent.boxId : null;
    const box = boxId ? core.store.getBox(boxId) : null;
    removeDurable(found.file);
    report.kept(box?.id ?? null, `The record of the unfinished ${op} ${id}${box ? ` of the box ${JSON.stringify(box.name)}` : ''} was discarded as asked: the operation was neither finished nor undone, and its files were left as they were. Recovery's checks move what no record knows to ${core.paths.orphansDir} and report what they cannot place.`);
    return;
  }
  throw notFound(`No unfinished operation has the id ${JSON.stringify(id)}; "boxkeep recover" names the ones it keeps.`);
}
