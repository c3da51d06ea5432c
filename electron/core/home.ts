import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BoxkeepError } from '../../shared/errors.js';
import { HomePaths } from './paths.js';

/** The home shared by the app and the CLI: BOXKEEP_HOME, else the XDG data folder. */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOXKEEP_HOME) return path.resolve(env.BOXKEEP_HOME);
  const data = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'boxkeep');
}

/** What only a folder Boxkeep made holds; its presence is what makes a folder a Boxkeep home. */
const HOME_MARKER = 'boxkeep.db';

/** Every name Boxkeep puts at the top of a home (the database may be missing: moved aside). */
function homeEntries(home: string): Set<string> {
  const p = new HomePaths(home);
  const files = [p.db, `${p.db}-wal`, `${p.db}-shm`, p.lock, `${p.lock}.db`, p.imagesDir, p.boxesDir, p.homeJournal, p.orphansDir, p.controlSocket];
  return new Set(files.map((f) => path.basename(f)));
}

/**
 * The home holds every guest's disks, so it is private (0700). But --home may name any folder,
 * and Boxkeep only changes one it made. A Boxkeep home is a folder with boxkeep.db, or one that
 * holds nothing but names Boxkeep puts there (an empty folder among them: adopted as a new
 * home, since the user made it for this). It is tightened to 0700 if loosened; except that an
 * empty folder with the sticky bit is a shared folder such as /tmp and is left alone. A private
 * folder of the user's own holding other files is used without changing it. Any other folder is
 * refused untouched, and so is a folder of another user (someone could have made it first in /tmp).
 */
export function privateHome(home: string): string {
  try {
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  } catch (err) {
    // A file where the home (or a folder above it) should be.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new BoxkeepError('InvalidArgument', `The Boxkeep home ${home} is not a folder (${code === 'EEXIST' ? 'a file is there' : 'a file is in its path'}); pick another with --home or BOXKEEP_HOME.`);
    throw err;
  }
  const st = fs.statSync(home);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new BoxkeepError('InvalidArgument', `The Boxkeep home ${home} is not a folder; pick another with --home or BOXKEEP_HOME.`);
  if (uid !== undefined && st.uid !== uid) {
    throw new BoxkeepError('InvalidState', `The Boxkeep home ${home} belongs to another user (uid ${st.uid}); pick a folder of your own with --home or BOXKEEP_HOME.`);
  }
  const entries = fs.readdirSync(home);
  const ours = homeEntries(home);
  const foreign = entries.includes(HOME_MARKER) ? [] : entries.filter((e) => !ours.has(e));
  // A folder of the user's own that is already private (0700 or tighter, no special bits) is
  // used as it is: Boxkeep changes nothing of it but the files it adds. Anything looser would
  // have to be changed, and that is only done to a folder Boxkeep made.
  // …unless it already holds names Boxkeep uses (a journal/, boxes/ of the user's own): those
  // would be read as Boxkeep's records and files.
  const claimed = entries.filter((e) => ours.has(e));
  if (foreign.length > 0 && ((st.mode & 0o7077) !== 0 || claimed.length > 0)) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', …' : '');
    throw new BoxkeepError('InvalidArgument', `${home} is not a Boxkeep home: it has no ${HOME_MARKER} and holds other files (${shown})${claimed.length ? ` beside names Boxkeep uses (${claimed.join(', ')})` : ' and is not private'}; Boxkeep will not use it. Pick a new or empty folder with --home or BOXKEEP_HOME.`);
  }
  if (entries.length === 0 && (st.mode & 0o1000) !== 0) {
    throw new BoxkeepError('InvalidArgument', `${home} is a shared folder (it has the sticky bit, like /tmp); Boxkeep will not make it private. Pick a folder of your own with --home or BOXKEEP_HOME.`);
  }
  if ((st.mode & 0o7077) !== 0) fs.chmodSync(home, 0o700);
  return home;
}

