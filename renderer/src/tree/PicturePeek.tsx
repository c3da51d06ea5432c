// A small preview of a snapshot's picture next to its row, while the row is hovered or, for the
// keyboard, selected in the focused tree. One element for the whole tree, fixed over the page:
// it takes no room (no layout shift) and lets the pointer through to the rows below it. Moving
// to another row keeps the last picture until the next one is ready, so nothing blinks.
import { useLayoutEffect, useState } from 'react';
import type { Snapshot } from '../../../shared/types.js';
import { useActions } from '../context.js';

export const PEEK_WIDTH = 160;
/** The tallest the preview gets (a 4:3 screen): decides whether it fits below the row. */
const PEEK_MAX_HEIGHT = 120;

export interface PeekTarget {
  snapshot: Snapshot;
  /** The row's element id (it is rendered: hovered, or the selection, which always is). */
  rowId: string;
  /** Where the row's text starts, from the row's left edge. */
  indent: number;
}

interface Shown {
  url: string;
  name: string;
  top: number;
  left: number;
}

export function PicturePeek({ boxId, target, moved }: { boxId: string; target: PeekTarget | null; moved: number }) {
  const actions = useActions();
  const [shown, setShown] = useState<Shown | null>(null);
  const id = target?.snapshot.id ?? null;
  const name = target?.snapshot.name ?? '';
  const rowId = target?.rowId ?? null;
  const indent = target?.indent ?? 0;
  useLayoutEffect(() => {
    const row = id !== null && rowId !== null ? document.getElementById(rowId) : null;
    if (id === null || !row) return setShown(null);
    const r = row.getBoundingClientRect();
    const below = r.bottom + 4 + PEEK_MAX_HEIGHT <= window.innerHeight;
    const place = { top: below ? r.bottom + 4 : Math.max(0, r.top - 4 - PEEK_MAX_HEIGHT), left: r.left + indent };
    const show = (url: string | null) => setShown(url ? { url, name, ...place } : null);
    const cached = actions.cachedSnapshotPicture(boxId, id);
    if (cached !== undefined) return show(cached);
    let live = true;
    void actions.snapshotPicture(boxId, id).then((url) => live && show(url));
    return () => {
      live = false;
    };
  }, [actions, boxId, id, name, rowId, indent, moved]);
  if (!target || !shown) return null;
  return (
    <div className="picture-peek" role="tooltip" style={{ top: shown.top, left: shown.left }}>
      <img src={shown.url} width={PEEK_WIDTH} alt={`Preview: the screen of the box when “${shown.name}” was taken`} />
    </div>
  );
}
