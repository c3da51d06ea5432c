// Measures what a person waits for: from the moment a box's snapshot tree lands in the store
// to the first frame painted with it. Recorded as performance entries so the e2e tests (and
// anyone with devtools open) can read them: measure "boxkeep:tree-render".
import type { SnapshotTree } from '../../shared/types.js';
import type { AppStore } from './store/state.js';

export const TREE_DATA_MARK = 'boxkeep:tree-data';
export const TREE_RENDER_MEASURE = 'boxkeep:tree-render';

let waitingFor: SnapshotTree | null = null;

/** Marks every arrival of the shown box's tree. Store listeners run synchronously in setState. */
export function watchTreeTiming(store: AppStore): () => void {
  let last: SnapshotTree | undefined;
  return store.subscribe((s) => {
    const tree = s.selectedBoxId ? s.trees[s.selectedBoxId] : undefined;
    if (!tree || tree === last) return;
    last = tree;
    waitingFor = tree;
    performance.mark(TREE_DATA_MARK, { detail: { boxId: tree.boxId, snapshots: tree.snapshots.length } });
  });
}

/** Called once the tree component has committed `tree` to the DOM. */
export function treePainted(tree: SnapshotTree): void {
  if (tree !== waitingFor) return;
  waitingFor = null;
  // rAF runs just before the frame is painted; a message posted from it runs just after.
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      performance.measure(TREE_RENDER_MEASURE, { start: TREE_DATA_MARK, detail: { boxId: tree.boxId, snapshots: tree.snapshots.length } });
      channel.port1.close();
    };
    channel.port2.postMessage(null);
  });
}
