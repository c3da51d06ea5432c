// One owner per home: the app or one CLI process. The lock file names its owner by
// fingerprint, so a lock left by a dead process (or from before a reboot) is taken over.
import fs from 'node:fs';
import { BoxkeepError } from '../../shared/errors.js';
import { writeFileDurable } from './fsutil.js';
import { fingerprintOf, isSameProcess, type ProcessFingerprint } from './proc.js';

export type OwnerKind = 'app' | 'cli' | 'host' | 'test';

export interface LockInfo extends ProcessFingerprint {
  kind: OwnerKind;
  takenAt: number;
}

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
  private constructor(readonly file: string, readonly info: LockInfo) {}

  static acquire(file: string, kind: OwnerKind): HomeLock {
    const mine: LockInfo = { ...fingerprintOf(process.pid), kind, takenAt: Date.now() };
    const holder = readLock(file);
    if (holder && holder.pid !== process.pid && isSameProcess(holder)) {
      throw new BoxkeepError('InvalidState', `This Boxkeep home is in use by another ${holder.kind === 'app' ? 'Boxkeep app' : 'boxkeep process'} (pid ${holder.pid}). Close it, or run this command while the app is running so it is forwarded to it.`);
    }
    // Free or stale: take it. Write-then-verify settles a race between two takers.
    writeFileDurable(file, JSON.stringify(mine));
    const after = readLock(file);
    if (!after || after.pid !== mine.pid || after.takenAt !== mine.takenAt) {
      throw new BoxkeepError('InvalidState', `Another process took this Boxkeep home at the same moment (pid ${after?.pid ?? '?'}); try again.`);
    }
    return new HomeLock(file, mine);
  }

  release(): void {
    const holder = readLock(this.file);
    if (holder && holder.pid === this.info.pid && holder.takenAt === this.info.takenAt) {
      fs.rmSync(this.file, { force: true });
    }
  }
}
