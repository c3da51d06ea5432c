import { notFound } from '../../../shared/errors.js';
import type { Box } from '../../../shared/types.js';
import type { Store } from '../store/store.js';

/** The box a user named (its id or name), or NotFound saying how to see the boxes. */
export function resolveBox(store: Store, ref: string): Box {
  const box = store.findBox(ref);
  if (!box) throw notFound(`No box is called ${JSON.stringify(ref)}. See your boxes with "boxkeep box list".`);
  return box;
}
