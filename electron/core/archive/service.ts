// Archives: a box (or one snapshot of it) exported as one .boxkeep file, and such a file
// imported as a new box. Both are tasks with progress that can be cancelled (tasks:cancel).
// An export holds the box's queue (its snapshots cannot change under it); an import holds the
// home-wide queue, as an image import or a box create does.
import fs from 'node:fs';
import { notFound } from '../../../shared/errors.js';
import type { ChannelInput } from '../../../shared/channels.js';
import type { Box } from '../../../shared/types.js';
import type { Effects, HomeData } from '../deps.js';
import type { BoxService } from '../boxes/service.js';
import { HOME_KEY } from '../mutex.js';
import type { Tasks } from '../tasks.js';
import { defaultCompression } from './compress.js';
import { planBox, planSnapshot, writeArchive, type ExportPlan } from './export.js';
import { importArchive } from './import.js';
import { assertNoUnfinishedWork } from '../snapshots/waiting-merge.js';

export type ArchiveDeps = HomeData & Effects & { tasks: Tasks; boxes: Pick<BoxService, 'resolve'> };

export interface ExportResult {
  path: string;
  bytes: number;
  compression: 'zstd' | 'gzip' | 'none';
}

export class ArchiveService {
  constructor(private readonly core: ArchiveDeps) {}

  export(input: ChannelInput<'boxes:export'>): Promise<ExportResult> {
    const box = this.core.boxes.resolve(input.box);
    const compression = input.compression ?? defaultCompression();
    return this.core.locks.run(box.id, () => this.core.tasks.run('box-export', box.id, `Exporting ${box.name}`, async (task) => {
      const fresh = this.core.store.getBox(box.id);
      if (!fresh) throw notFound(`The box ${JSON.stringify(box.name)} was removed meanwhile.`);
      // As for a clone: with an operation unfinished the files may not be what the box reads.
      assertNoUnfinishedWork(this.core, fresh);
      let plan: ExportPlan | null = null;
      try {
        if (input.snapshot === undefined) plan = await planBox(this.core, fresh, task);
        else {
          const snapshot = this.core.store.findSnapshot(box.id, input.snapshot);
          if (!snapshot) throw notFound(`The box ${JSON.stringify(box.name)} has no snapshot called ${JSON.stringify(input.snapshot)}. See them with "boxkeep snapshot list ${box.name}".`);
          plan = await planSnapshot(this.core, fresh, snapshot, task);
        }
        const { bytes } = await writeArchive(input.path, plan, compression, task, { journal: this.core.paths.boxJournal(box.id), boxId: box.id });
        this.core.logger.info('box exported', { op: 'box-export', boxId: box.id, bytes, compression });
        return { path: input.path, bytes, compression };
      } finally {
        if (plan?.scratch) fs.rmSync(plan.scratch, { force: true });
      }
    }));
  }

  import(input: ChannelInput<'boxes:import'>): Promise<Box> {
    return this.core.locks.run(HOME_KEY, () => this.core.tasks.run('box-import', null, `Importing ${input.path}`, async (task) => {
      const box = await importArchive(this.core, input.path, input.name, task);
      this.core.logger.info('box imported', { op: 'box-import', boxId: box.id });
      this.core.events.emit('boxes:changed', { boxId: box.id });
      if (box.imageId) this.core.events.emit('images:changed', { imageId: box.imageId });
      return box;
    }));
  }
}
