// The snapshot tree as a virtualized listbox: only the rows in view exist in the DOM, so a
// box with thousands of snapshots opens as fast as one with three. Arrow keys move the
// selection; the selected row is announced through aria-activedescendant.
//
// Opening a big box is on the clock (100 ms for 1,000 snapshots, data to paint), so the first
// frame is built once, right: the viewport is measured before any row is rendered, the list
// starts scrolled to the selection, and rows are memoized so later store updates (the box's
// detail landing, the clock ticking) redraw only what changed.
import { defaultRangeExtractor, useVirtualizer, type Range } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent, type RefObject } from 'react';
import type { Box, BoxDetail, Snapshot, SnapshotTree as Tree } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { exactTime, formatBytes, isoTime, relativeTime, treeBase } from '../format.js';
import { useNow } from '../hooks.js';
import { treePainted } from '../perf.js';
import { NOW_KEY, type TreeLayout, type TreeRow } from './layout.js';
import { PicturePeek, type PeekTarget } from './PicturePeek.js';
import { graphWidth, ROW_HEIGHT, TreeGraph } from './TreeGraph.js';

interface Props {
  box: Box;
  detail: BoxDetail | null;
  tree: Tree;
  layout: TreeLayout;
}

export function SnapshotTree({ box, detail, tree, layout }: Props) {
  const actions = useActions();
  const selectedKey = useApp((s) => s.selectedRow[box.id] ?? NOW_KEY);
  const scrollRef = useRef<HTMLDivElement | null>(null);
  const [viewport, setViewport] = useState<number | null>(null);
  const rows = layout.rows;
  const selectedIndex = layout.indexByKey.get(selectedKey) ?? rows.length - 1;

  useLayoutEffect(() => setViewport(scrollRef.current!.getBoundingClientRect().height), []);
  useEffect(() => treePainted(tree), [tree]);

  const select = useCallback((index: number) => actions.selectRow(box.id, rows[index]!.key), [actions, box.id, rows]);

  // The picture preview: for the hovered row, else for the selection while the keyboard drives.
  const [hovered, setHovered] = useState<number | null>(null);
  const [byKeyboard, setByKeyboard] = useState(false);
  const [moved, setMoved] = useState(0);
  const peekAt = hovered ?? (byKeyboard ? selectedIndex : null);
  const peekRow = peekAt !== null ? rows[peekAt] : undefined;
  const peek: PeekTarget | null =
    peekRow?.kind === 'snapshot' && peekRow.snapshot.hasPicture ? { snapshot: peekRow.snapshot, rowId: rowId(peekAt!), indent: 3 + graphWidth(layout.lanes) } : null;
  // One listener for all rows (rows stay free of it): the option under the pointer, by its key.
  const onMouseOver = (e: MouseEvent<HTMLDivElement>) => {
    const key = (e.target as Element).closest<HTMLElement>('[role="option"]')?.dataset.key;
    setHovered(key !== undefined ? layout.indexByKey.get(key) ?? null : null);
  };
  // A scroll moves the rows from under a placed preview: the pointer's goes, the keyboard's follows.
  const onScroll = () => {
    setHovered(null);
    if (byKeyboard) setMoved((n) => n + 1);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    setByKeyboard(true);
    const page = Math.max(1, Math.floor((viewport ?? 480) / ROW_HEIGHT) - 1);
    const to = { ArrowDown: selectedIndex + 1, ArrowUp: selectedIndex - 1, Home: 0, End: rows.length - 1, PageDown: selectedIndex + page, PageUp: selectedIndex - page }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(Math.max(0, Math.min(rows.length - 1, to)));
  };

  return (
    <>
      <div
        ref={scrollRef}
        className="tree-scroll"
        role="listbox"
        tabIndex={0}
        aria-label={`Snapshots of ${box.name}`}
        // The selected row is always rendered (see the range below), so this id always exists.
        aria-activedescendant={viewport !== null ? rowId(selectedIndex) : undefined}
        onKeyDown={onKeyDown}
        onFocus={(e) => setByKeyboard(e.currentTarget.matches(':focus-visible'))}
        onBlur={() => setByKeyboard(false)}
        onMouseDown={() => setByKeyboard(false)}
        onMouseOver={onMouseOver}
        onMouseLeave={() => setHovered(null)}
        onScroll={onScroll}
        data-testid="snapshot-tree"
      >
        {viewport !== null && (
          <Rows scrollRef={scrollRef} viewport={viewport} layout={layout} tree={tree} box={box} detail={detail} selectedIndex={selectedIndex} onSelect={select} />
        )}
      </div>
      <PicturePeek boxId={box.id} target={peek} moved={moved} />
    </>
  );
}

interface RowsProps {
  scrollRef: RefObject<HTMLDivElement | null>;
  viewport: number;
  layout: TreeLayout;
  tree: Tree;
  box: Box;
  detail: BoxDetail | null;
  selectedIndex: number;
  onSelect(index: number): void;
}

// Memoized: the tree's own state (the hovered row) changes nothing here.
const Rows = memo(function Rows({ scrollRef, viewport, layout, tree, box, detail, selectedIndex, onSelect }: RowsProps) {
  const rows = layout.rows;
  const now = useNow(30_000);
  const [initialOffset] = useState(() => Math.max(0, Math.min(rows.length * ROW_HEIGHT - viewport, (selectedIndex + 1) * ROW_HEIGHT - viewport)));
  // Before the virtualizer (declared below) reads the scroll position in its own effect.
  useLayoutEffect(() => {
    scrollRef.current!.scrollTop = initialOffset;
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 6,
    getItemKey: (i) => rows[i]!.key,
    initialRect: { width: 800, height: viewport },
    initialOffset,
    rangeExtractor: useCallback((range: Range) => withSelected(defaultRangeExtractor(range), selectedIndex), [selectedIndex]),
  });

  // Bring the selection into view when it changes (the first frame already shows it).
  const shown = useRef(selectedIndex);
  useLayoutEffect(() => {
    if (shown.current === selectedIndex) return;
    shown.current = selectedIndex;
    virtualizer.scrollToIndex(selectedIndex, { align: 'auto' });
  }, [selectedIndex, virtualizer]);

  const parentName = (id: string | null) => (id === null ? null : tree.snapshots.find((s) => s.id === id)?.name ?? null);
  // One object per detail, so the memoized base and Now rows only redraw when it changes.
  const base = useMemo(() => treeBase(detail), [detail]);
  return (
    <div className="tree-inner" style={{ height: virtualizer.getTotalSize() }}>
      {virtualizer.getVirtualItems().map((item) => {
        const row = rows[item.index]!;
        return (
          <Row
            key={item.key}
            index={item.index}
            start={item.start}
            row={row}
            lanes={layout.lanes}
            setSize={rows.length}
            selected={item.index === selectedIndex}
            now={now}
            onSelect={onSelect}
            base={row.kind === 'base' || row.kind === 'now' ? base : null}
            imageSize={row.kind === 'base' ? detail?.image?.sizeOnDisk ?? null : null}
            nowState={row.kind === 'now' ? (box.status === 'running' ? 'running' : box.status === 'paused' ? 'paused' : 'current state') : ''}
            nowParent={row.kind === 'now' ? parentName(row.parentId) : null}
          />
        );
      })}
    </div>
  );
});

function withSelected(indexes: number[], selected: number): number[] {
  if (indexes.includes(selected)) return indexes;
  return [...indexes, selected].sort((a, b) => a - b);
}

const rowId = (index: number) => `tree-row-${index}`;

interface RowProps {
  index: number;
  start: number;
  row: TreeRow;
  lanes: number;
  setSize: number;
  selected: boolean;
  now: number;
  onSelect(index: number): void;
  /** The words for what the tree stands on (base and Now rows only). */
  base: { title: string; the: string; sub: string } | null;
  imageSize: number | null;
  nowState: string;
  nowParent: string | null;
}

// Two layers: the option element carries the position and ARIA numbers, which change for
// every row when a snapshot is added (set size, offset); its content (graph, texts) is memoized
// on the layout row, which the layout keeps identical when nothing about that row changed.
const Row = memo(function Row(p: RowProps) {
  const { row } = p;
  return (
    <div
      id={rowId(p.index)}
      role="option"
      aria-selected={p.selected}
      aria-setsize={p.setSize}
      aria-posinset={p.index + 1}
      className={`tree-row kind-${row.kind}${p.selected ? ' selected' : ''}`}
      data-key={row.key}
      style={{ transform: `translateY(${p.start}px)` }}
      onClick={() => p.onSelect(p.index)}
    >
      <RowBody row={row} lanes={p.lanes} now={p.now} base={p.base} imageSize={p.imageSize} nowState={p.nowState} nowParent={p.nowParent} />
    </div>
  );
});

type RowBodyProps = Pick<RowProps, 'row' | 'lanes' | 'now' | 'base' | 'imageSize' | 'nowState' | 'nowParent'>;

const RowBody = memo(function RowBody(p: RowBodyProps) {
  const { row } = p;
  return (
    <>
      <TreeGraph row={row} lanes={p.lanes} />
      {row.kind === 'snapshot' ? (
        <SnapshotText s={row.snapshot} isCurrent={row.isCurrent} now={p.now} />
      ) : row.kind === 'now' ? (
        <div className="row-text">
          <div className="row-title">
            <span className="row-name now-name">Now</span>
            <span className="badge badge-now">{p.nowState}</span>
          </div>
          <div className="row-desc">{p.nowParent !== null ? `Changes since “${p.nowParent}”` : `Changes since ${p.base?.the ?? 'the base image'}`}</div>
        </div>
      ) : (
        <div className="row-text">
          <div className="row-title">
            <span className="row-name">{p.base?.title}</span>
            <span className="row-sub">{p.base?.sub}</span>
            {p.imageSize !== null && (
              <span className="row-meta">
                <span className="row-size">
                  <span className="sr-only">, uses </span>
                  {formatBytes(p.imageSize)}
                </span>
              </span>
            )}
          </div>
          <div className="row-desc">Read-only; every snapshot builds on it</div>
        </div>
      )}
    </>
  );
});

function SnapshotText({ s, isCurrent, now }: { s: Snapshot; isCurrent: boolean; now: number }) {
  return (
    <div className="row-text">
      <div className="row-title">
        <span className="row-name" title={s.name}>{s.name}</span>
        {s.live && <span className="badge badge-live">live</span>}
        {s.auto && <span className="badge badge-auto" title="Taken by AutoProtect">auto</span>}
        {s.pinned && <span className="badge badge-pinned" title="Pinned: never pruned">pinned</span>}
        {isCurrent && <span className="badge badge-current">current</span>}
        <span className="row-meta">
          <span className="sr-only">, taken </span>
          <time dateTime={isoTime(s.createdAt)} title={exactTime(s.createdAt)}>
            {relativeTime(s.createdAt, now)}
          </time>
          <span className="row-size">
            <span className="sr-only">, uses </span>
            {formatBytes(s.sizeOnDisk)}
          </span>
        </span>
      </div>
      {s.description && <div className="row-desc">{s.description}</div>}
    </div>
  );
}

