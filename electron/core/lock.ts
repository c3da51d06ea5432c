// One owner per home: the app or one CLI process.
//
// The exclusion is a lock the kernel holds for us: an open SQLite connection to home.lock.db
// inside `BEGIN EXCLUSIVE`. SQLite takes a POSIX fcntl write lock on the file, which the kernel
// drops the moment the holder exits, however it exits (kill -9, power cut: the lock never
// outlives its process, so there is no stale owner to take over and no takeover race), and its
// own per-inode table refuses a second connection of the same process too (tests and the app
// may open several cores in one process). Reading a file, writing one's own and reading it back,
// as before, lets two processes that read before either writes both "hold" the home.
//
// Rules that keep it a lock:
// - home.lock.db is never deleted or replaced: a process that opened the old inode would hold a
//   lock nobody else looks at.
// - Nothing else in a process may open home.lock.db: closing ANY descriptor of a file drops
//   that process's fcntl locks on it.
// - No page is ever written (journal in memory): taking the lock needs no disk space and leaves
//   no journal behind, so read-only commands work on a full disk.
//
// home.lock is only a note saying who holds the home, so a refused command can name the app and
// its pid. It is written after the lock is taken and removed before it is let go; a note left by
// a dead holder is ignored (fingerprint check), and on a full disk there may be none.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { BoxkeepError } from '../../shared/errors.js';
import { writeFileAtomic } from './fsutil.js';
import { fingerprintOf, isSameProcess, type ProcessFingerprint } from './proc.js';

export type OwnerKind = 'app' | 'cli' | 'host' | 'test';

export interface LockInfo extends ProcessFingerprint {
  kind: OwnerKind;
  takenAt: number;
}

/**
 * Waiting this long lets two takers that started together settle on one: SQLite first takes a
 * shared lock, so without a wait both could see the other's and give up. Short, because a
 * refused command should say so promptly.
 */
const SETTLE_MS = 250;

export function readLock(file: string): LockInfo | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    if (typeof parsed?.pid !== 'number') return null;
    return parsed;
  } catch {
    return null;
  }
}

export class HomeLock {
  private constructor(
    private readonly conn: Database.Database,
    /** The owner note (home.lock). */
    readonly file: string,
    readonly info: LockInfo,
  ) {}

  /** `file` is the owner note; the kernel lock is held on `${file}.db` next to it. */
  static acquire(file: string, kind: OwnerKind): HomeLock {
    const conn = takeKernelLock(`${file}.db`, file);
    const mine: LockInfo = { ...fingerprintOf(process.pid), kind, takenAt: Date.now() };
    try {
      // Not fsynced: every command takes the home, and a note lost to a power cut only makes a
      // refusal less specific ("another command is changing this home").
      writeFileAtomic(file, JSON.stringify(mine));
    } catch (err) {
      // Only the note is lost: the lock is held. A full disk must not stop read-only commands.
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC' && (err as NodeJS.ErrnoException).code !== 'EDQUOT') {
        conn.close();
        throw err;
      }
    }
    return new HomeLock(conn, file, mine);
  }

  release(): void {
    if (!this.conn.open) return;
    // Still holding the lock, so the note we may delete can only be ours (or a dead holder's).
    const note = readLock(this.file);
    if (!note || (note.pid === this.info.pid && note.takenAt === this.info.takenAt) || !isSameProcess(note)) {
      // unlinkSync, not rmSync: Node 20's rmSync loads its whole recursive remover first.
      try {
        fs.unlinkSync(this.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.conn.close();
  }
}

function takeKernelLock(lockFile: string, noteFile: string): Database.Database {
  let conn: Database.Database;
  try {
    conn = new Database(lockFile);
  } catch (err) {
    throw new BoxkeepError('Storage', `Cannot open the home's lock file ${lockFile}: ${(err as Error).message}.`, { cause: err });
  }
  try {
    conn.pragma(`busy_timeout = ${SETTLE_MS}`);
    conn.pragma('journal_mode = MEMORY');
    conn.exec('BEGIN EXCLUSIVE');
    return conn;
  } catch (err) {
    conn.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw inUse(readLock(noteFile));
    throw new BoxkeepError('Storage', `Cannot lock the home's lock file ${lockFile}: ${(err as Error).message}.`, { cause: err });
  }
}

function inUse(holder: LockInfo | null): BoxkeepError {
  if (holder && isSameProcess(holder)) {
    // Another one-shot command (a stop waiting for its guest, an export): it ends by itself.
    if (holder.kind === 'cli' || holder.kind === 'test') {
      return new BoxkeepError('InvalidState', `This Boxkeep home is in use by another boxkeep command (pid ${holder.pid}), such as a stop waiting for its guest or a long export; try again when it has finished.`);
    }
    const who = holder.kind === 'app' ? 'the Boxkeep app' : '`boxkeep serve`';
    return new BoxkeepError('InvalidState', `This Boxkeep home is in use by ${who} (pid ${holder.pid}), which did not take this command. Close it, or run the command again once it answers.`);
  }
  // The holder has not written its note yet (or could not: full disk): a command racing ours.
  return new BoxkeepError('InvalidState', 'Another command is changing this Boxkeep home right now; try again when it has finished.');
}
