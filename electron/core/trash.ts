// <home>/trash: what a finished operation no longer needs (a removed snapshot's folder, the
// live disk a live commit replaced), out of its place in one rename and freed in the
// background. Freeing is the slow part of deleting a large file (this machine's ext4 frees
// about 2 GiB a second: 25 ms for 50 MiB, seconds for tens of GiB), and nobody needs to wait
// for it: the operation has ended once the file is out of its place.
//
// Nothing in the trash is anyone's data: only take() and keep() put names there, each a name
// nothing else refers to, so whatever is found there at open (a crash before it was freed) is
// freed then. The space guard counts what is still to be freed as free (space.ts diskSpace).
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, mkdirDurable, removeDurable } from './fsutil.js';
import { newId } from './ids.js';
import type { Logger } from './logger.js';

export class Trash {
  /** Bytes on disk of each name still to be freed. */
  private readonly pending = new Map<string, number>();
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly dir: string, private readonly logger: Logger) {}

  /** What is still to be freed, in bytes. */
  get pendingBytes(): number {
    let sum = 0;
    for (const bytes of this.pending.values()) sum += bytes;
    return sum;
  }

  /**
   * Moves `target` (a file or a folder of the home) into the trash, durably gone from its place.
   * Freed by the next empty(). Deleted at once when the trash cannot be used.
   */
  take(target: string): void {
    const st = fs.lstatSync(target, { throwIfNoEntry: false });
    if (!st) return;
    if (!this.usable()) {
      removeDurable(target);
      return;
    }
    const bytes = st.isDirectory() ? treeBytes(target) : st.blocks * 512;
    const name = newId();
    fs.renameSync(target, path.join(this.dir, name));
    // The rename is one journal entry: made durable on the side it leaves, it is on both.
    fsyncDir(path.dirname(target));
    this.pending.set(name, bytes);
  }

  /**
   * A second name in the trash for a file whose last name is about to go while a process still
   * holds it open (QEMU's old top, replaced by a rename): its space is then freed by the next
   * empty(), not by that process when it closes the file (QEMU would free it in its main loop,
   * with the guest's I/O waiting). Not durable, and needs not be: lost, the close frees it.
   */
  keep(file: string): void {
    if (!this.usable()) return;
    const name = newId();
    try {
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
    let names: string[];
    try {
      names = (await fs.promises.readdir(this.dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      try {
        // rm never follows a link: a link planted in the trash goes, not what it names.
        await fs.promises.rm(path.join(this.dir, name), { recursive: true, force: true });
        this.pending.delete(name);
      } catch (err) {
        // Left for the next empty() (the next operation, or the next open).
        this.logger.warn('trash: not freed', { op: 'trash', name, error: String(err) });
        return;
      }
    }
  }

  /** The trash is a real folder of the home (made if missing), never a link someone planted. */
  private usable(): boolean {
    try {
      if (!fs.existsSync(this.dir)) mkdirDurable(this.dir);
      return fs.lstatSync(this.dir).isDirectory();
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
