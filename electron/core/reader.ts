// A home opened to read rows only: the lock and the database, without the engine. A CLI command
// that only reads (box list, snapshot list, image list) uses it when no app or `boxkeep serve`
// owns the home, so it neither loads nor builds the services it would not call. It is taken as
// the engine takes it (take-home.ts: the same checks, the same lock, so no operation runs
// meanwhile), and when the home has anything to recover (an intent record, a box recorded as
// running: recovery/needed.ts) it gives the home back and the caller opens the whole engine,
// which recovers first, so what is read is what the engine would answer.
import { BoxkeepError } from '../../shared/errors.js';
import type { RecoveryReport } from '../../shared/types.js';
import { parseInput } from '../../shared/validate.js';
import { asDiskFull } from './fsutil.js';
import { isReadChannel, readHandlers, READ_CHANNELS } from './reads.js';
import { recoveryNeeded } from './recovery/needed.js';
import { takeHome } from './take-home.js';

export interface HomeReader {
  /** Answers a read channel; anything else is refused (the command was declared read-only by mistake). */
  invoke(channel: string, raw: unknown): unknown;
  /** What opening did: nothing to recover, or there would be no reader. */
  readonly openedWith: RecoveryReport;
  close(): void;
}

/** The home opened for reading, or null when it has something to recover (open the engine then). */
export function openReader(home: string): HomeReader | null {
  let taken;
  try {
    taken = takeHome(home, 'cli');
  } catch (err) {
    throw asDiskFull(home, err);
  }
  const { paths, store, lock } = taken;
  const close = () => {
    store.close();
    lock.release();
  };
  try {
    if (recoveryNeeded(taken)) {
      close();
      return null;
    }
  } catch (err) {
    close();
    throw err;
  }
  const handlers = readHandlers(taken) as Record<string, (input: unknown) => unknown>;
  return {
    invoke(channel, raw) {
      try {
        if (!isReadChannel(channel)) throw new BoxkeepError('Internal', `${String(channel).slice(0, 80)} is not one of the read channels (${READ_CHANNELS.join(', ')}) a home opened for reading answers.`);
        return handlers[channel]!(parseInput(channel, raw));
      } catch (err) {
        throw BoxkeepError.from(asDiskFull(paths.root, err));
      }
    },
    openedWith: { at: Date.now(), elapsedMs: 0, items: [] },
    close,
  };
}
