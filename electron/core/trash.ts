// <home>/trash: what a finished operation no longer needs (a removed snapshot's folder, the
// live disk a live commit replaced), out of its place in one rename and freed in the
// background. Freeing is the slow part of deleting a large file (this machine's ext4 frees
// about 2 GiB a second: 25 ms for 50 MiB, seconds for tens of GiB), and nobody needs to wait
// for it: the operation has ended once the file is out of its place.
//
// Nothing in the trash is anyone's data: only take() and keep() put names there, each a name
// nothing else refers to, so whatever of those names is found there at open (a crash before it
// was freed) is freed then. Any other name is left alone, and so is a trash that is a link or
// not the folder it was: the home is the user's, and can be edited by hand. `trash` is not
// among the names that make a folder a Boxkeep home (home.ts): a folder holding only a
// `trash/` of the user's is not adopted. The space guard counts what is still to be freed as free (space.ts diskSpace).
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, mkdirDurable, removeDurable } from './fsutil.js';
import { isId, newId } from './ids.js';
import type { Logger } from './logger.js';

export class Trash {
  /** Bytes on disk of each name still to be freed (less what of it is freed already). */
  private readonly pending = new Map<string, number>();
  private running: Promise<void> | null = null;
  private again = false;
  /** The trash folder as first seen or made (dev, ino): anything else at its path is not used. */
  private identity: { dev: number; ino: number } | null = null;

  constructor(private readonly dir: string, private readonly logger: Logger) {}

  /**
   * What is still to be freed, in bytes. Each file is taken off before it is unlinked, so a
   * folder being freed is never counted twice (once here, once as free space).
   */
  get pendingBytes(): number {
    let sum = 0;
    for (const bytes of this.pending.values()) sum += bytes;
    return sum;
  }

  /**
   * Moves `target` (a file or a folder of the home) into the trash, durably gone from its place.
   * Freed by the next empty(). Deleted at once when the trash cannot be used, or the move fails
   * (another filesystem, no room for the folder's entry).
   */
  take(target: string): void {
    const st = fs.lstatSync(target, { throwIfNoEntry: false });
    if (!st) return;
    const name = newId();
    try {
      if (!this.usable(true)) throw new Error('the trash is not usable');
      const bytes = st.isDirectory() ? treeBytes(target) : st.blocks * 512;
      fs.renameSync(target, path.join(this.dir, name));
      this.pending.set(name, bytes);
    } catch (err) {
      this.logger.warn('trash: deleted at once', { op: 'trash', target, error: String(err) });
      removeDurable(target);
      return;
    }
    // The rename is one journal entry: made durable on the side it leaves, it is on both.
    fsyncDir(path.dirname(target));
  }

  /**
   * A second name in the trash for a file whose last name is about to go while a process still
   * holds it open (QEMU's old top, replaced by a rename): its space is then freed by the next
   * empty(), not by that process when it closes the file (QEMU would free it in its main loop,
   * with the guest's I/O waiting). Not durable, and needs not be: lost, the close frees it.
   */
  keep(file: string): void {
    const name = newId();
    try {
      if (!this.usable(true)) return;
      fs.linkSync(file, path.join(this.dir, name));
      this.pending.set(name, fs.statSync(file).blocks * 512);
    } catch (err) {
      this.logger.warn('trash: not kept', { op: 'trash', file, error: String(err) });
    }
  }

  /** Frees everything in the trash, in the background (off the event loop), one name at a time. */
  empty(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.free().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.empty();
      }
    });
  }

  /** Resolves once nothing started so far is still being freed (the home's close waits for it). */
  async drained(): Promise<void> {
    while (this.running) await this.running;
  }

  private async free(): Promise<void> {
    if (!this.usable(false)) return;
    let names: string[];
    try {
      names = (await fs.promises.readdir(this.dir)).sort();
    } catch {
      return;
    }
    // Only names take() and keep() make: anything else is someone's, and stays.
    for (const name of names.filter(isId)) {
      try {
        await this.freeName(name, path.join(this.dir, name));
      } catch (err) {
        // Left for the next empty() (the next operation, or the next open), and not counted
        // meanwhile: the guard under-counts rather than over-counts.
        this.pending.delete(name);
        this.logger.warn('trash: not freed', { op: 'trash', name, error: String(err) });
        return;
      }
      this.pending.delete(name);
    }
  }

  /** One file at a time, each taken off the count first; never through a link (lstat, unlink). */
  private async freeName(name: string, p: string): Promise<void> {
    // The trash is checked again before each step: it may have been swapped for a link meanwhile.
    if (!this.usable(false)) throw new Error('the trash is no longer the folder it was');
    const st = await fs.promises.lstat(p);
    if (st.isDirectory()) {
      for (const child of await fs.promises.readdir(p)) await this.freeName(name, path.join(p, child));
      await fs.promises.rmdir(p);
      return;
    }
    this.pending.set(name, Math.max(0, (this.pending.get(name) ?? 0) - st.blocks * 512));
    await fs.promises.unlink(p);
  }

  /**
   * The trash is a real folder of the home, the same one throughout (made when missing, if
   * `make`), never a link someone planted, nor one swapped in since.
   */
  private usable(make: boolean): boolean {
    try {
      let st = fs.lstatSync(this.dir, { throwIfNoEntry: false });
      if (!st && make) {
        mkdirDurable(this.dir);
        st = fs.lstatSync(this.dir);
        this.identity = null;
      }
      if (!st?.isDirectory()) return false;
      if (!this.identity) this.identity = { dev: st.dev, ino: st.ino };
      return st.dev === this.identity.dev && st.ino === this.identity.ino;
    } catch {
      return false;
    }
  }
}

/** Bytes on disk of a folder's files (a snapshot's folder: its disk, memory, picture, variables). */
function treeBytes(dir: string): number {
  let sum = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    sum += entry.isDirectory() ? treeBytes(p) : fs.lstatSync(p).blocks * 512;
  }
  return sum;
}
