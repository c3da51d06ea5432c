import type { RecoveryItem, RecoveryLevel } from '../../../shared/types.js';

/** Collects what recovery did; nothing it touches goes unreported. */
export class ReportBuilder {
  readonly items: RecoveryItem[] = [];

  add(level: RecoveryLevel, boxId: string | null, message: string): void {
    this.items.push({ level, boxId, message });
  }
  repaired(boxId: string | null, message: string) { this.add('repaired', boxId, message); }
  kept(boxId: string | null, message: string) { this.add('kept', boxId, message); }
  info(boxId: string | null, message: string) { this.add('info', boxId, message); }
}
