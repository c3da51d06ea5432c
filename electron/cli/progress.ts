// Progress of long operations (tasks:progress) as one line on stderr that redraws itself.
// Only for a terminal: in a pipe or a log file the carriage returns would be noise.
import type { TaskProgress } from '../../shared/types.js';
import { clean, truncate } from './format.js';

const CLEAR = '\r\x1b[K';
const BAR = 20;

export class ProgressLine {
  private shown = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly columns = 80,
  ) {}

  update(p: TaskProgress): void {
    if (p.done) return this.clear();
    const filled = Math.round(Math.max(0, Math.min(1, p.fraction)) * BAR);
    const line = `${clean(p.message)} [${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}] ${Math.floor(p.fraction * 100)}%`;
    this.write(CLEAR + truncate(line, Math.max(10, this.columns - 1)));
    this.shown = true;
  }

  /** Called before anything else is printed, so output never lands after a half line. */
  clear(): void {
    if (!this.shown) return;
    this.write(CLEAR);
    this.shown = false;
  }
}
