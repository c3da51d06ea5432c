// Quitting with boxes running: ask whether to stop them or leave them running in the
// background (the next start adopts them). The question and the outcome are plain data.
import type { Api } from '../../shared/client.js';
import { BoxkeepError } from '../../shared/errors.js';
import { isActive, type Box } from '../../shared/types.js';

export type QuitChoice = 'stop' | 'keep' | 'cancel';

export interface QuitQuestion {
  message: string;
  detail: string;
  /** In button order; the index of each choice is what a message box returns. */
  buttons: string[];
  choices: QuitChoice[];
  defaultId: number;
  cancelId: number;
}

export function quitQuestion(running: readonly Box[]): QuitQuestion {
  const names = running.slice(0, 5).map((b) => b.name).join(', ') + (running.length > 5 ? ` and ${running.length - 5} more` : '');
  const one = running.length === 1;
  return {
    message: one ? `${running[0]!.name} is still running.` : `${running.length} boxes are still running.`,
    detail:
      `${one ? 'It' : `${names}: they`} can be stopped now, or keep running in the background; ` +
      'Boxkeep picks them up again the next time it starts.',
    buttons: [one ? 'Stop it and quit' : 'Stop them and quit', 'Keep running and quit', 'Cancel'],
    choices: ['stop', 'keep', 'cancel'],
    defaultId: 0,
    cancelId: 2,
  };
}

export interface QuitOutcome {
  quit: boolean;
  stopped: string[];
  kept: string[];
  failures: Array<{ boxId: string; name: string; message: string }>;
}

export interface QuitDeps {
  api: Pick<Api, 'boxes'>;
  ask(question: QuitQuestion): Promise<QuitChoice>;
}

/**
 * Decides whether the app may quit now. A box that fails to stop blocks the quit (it is
 * reported, and choosing "keep running" next time still lets the user leave).
 */
export async function decideQuit(deps: QuitDeps): Promise<QuitOutcome> {
  let running: Box[];
  try {
    running = (await deps.api.boxes.list()).filter((b) => isActive(b.status));
  } catch {
    // The engine is not answering: nothing to ask about, and nothing we could stop.
    running = [];
  }
  if (running.length === 0) return { quit: true, stopped: [], kept: [], failures: [] };
  const choice = await deps.ask(quitQuestion(running));
  if (choice === 'cancel') return { quit: false, stopped: [], kept: [], failures: [] };
  if (choice === 'keep') return { quit: true, stopped: [], kept: running.map((b) => b.id), failures: [] };
  const results = await Promise.allSettled(running.map((b) => deps.api.boxes.stop({ box: b.id })));
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ boxId: running[i]!.id, name: running[i]!.name, message: BoxkeepError.from(r.reason).message }] : [],
  );
  const stopped = running.filter((_, i) => results[i]!.status === 'fulfilled').map((b) => b.id);
  return { quit: failures.length === 0, stopped, kept: [], failures };
}
