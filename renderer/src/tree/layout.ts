// Lays a box's snapshot tree out as rows and lanes, like a commit graph: one row per node in
// chronological order (base image first, "Now" last), each node in a lane (column). A node
// continues its parent's lane when it is the parent's oldest child; any later child (the
// first snapshot taken after restoring an older one) starts a branch in a new lane. "Now" is
// a child of the current snapshot like any other, so after a restore it visibly forks.
//
// Pure and DOM-free: the virtualized list draws each row from its own slice of the layout, so
// every row carries everything needed to draw its part of the lines without its neighbours.
import type { Snapshot, SnapshotTree } from '../../../shared/types.js';

interface RowBase {
  /** Stable React key: the snapshot id, or 'base' / 'now'. */
  key: string;
  /** Column of this row's node. */
  lane: number;
  /** A line reaches the node from the row above, in the node's lane. */
  up: boolean;
  /** A line leaves the node downwards in its own lane (its chain goes on). */
  down: boolean;
  /** Lanes that branch off this node: a curve from the node to the bottom of that lane. */
  forks: number[];
  /** Lanes whose line passes straight through this row (no node of theirs here). */
  pass: number[];
}

export interface BaseRow extends RowBase {
  kind: 'base';
}

export interface SnapshotTreeRow extends RowBase {
  kind: 'snapshot';
  snapshot: Snapshot;
  /** "Now" hangs under this snapshot. */
  isCurrent: boolean;
  /** Snapshots that depend on this one directly (what a delete would merge into). */
  childIds: string[];
}

export interface NowRow extends RowBase {
  kind: 'now';
  /** The snapshot "Now" hangs under; null when it hangs directly on the base image. */
  parentId: string | null;
}

export type TreeRow = BaseRow | SnapshotTreeRow | NowRow;

export interface TreeLayout {
  rows: TreeRow[];
  /** How many lanes the widest row needs. */
  lanes: number;
  /** Row index of each snapshot id, plus 'base' and 'now'. */
  indexByKey: Map<string, number>;
}

export const BASE_KEY = 'base';
export const NOW_KEY = 'now';

// Implementation note: a 1,000-snapshot tree is laid out on every reload, inside the 100 ms
// render budget, so nodes are indices into flat arrays (snapshots 0..n-1, then base, then Now)
// rather than objects in maps.
const NONE = -1;
const EMPTY: number[] = [];
const EMPTY_IDS: string[] = [];

/**
 * `previous`, the layout of the same box before this change: rows that come out the same are
 * returned as the previous objects, so the list redraws only the rows that changed.
 */
export function layoutTree(tree: Pick<SnapshotTree, 'snapshots' | 'currentId'>, previous?: TreeLayout | null): TreeLayout {
  const snaps = dedupe(tree.snapshots);
  const n = snaps.length;
  const BASE = n;
  const NOW = n + 1;
  const total = n + 2;

  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) index.set(snaps[i]!.id, i);

  // Parents: a missing parent (or a node naming itself) hangs on the base image.
  const parent = new Int32Array(total).fill(NONE);
  const created = new Float64Array(total);
  for (let i = 0; i < n; i++) {
    const s = snaps[i]!;
    const p = s.parentId === null || s.parentId === s.id ? undefined : index.get(s.parentId);
    parent[i] = p ?? BASE;
    created[i] = s.createdAt;
  }
  created[BASE] = -Infinity;
  created[NOW] = Infinity;
  parent[NOW] = tree.currentId !== null ? index.get(tree.currentId) ?? BASE : BASE;

  const children = childLists(parent, created, total);

  // Depth-first from the base: effective time (a child never sorts above its parent, even if
  // clocks jumped) and visiting order (the tie-breaker that keeps the engine's sibling order).
  const effective = new Float64Array(total);
  const dfs = new Int32Array(total).fill(NONE);
  let visited = 0;
  const stack: number[] = [];
  const visit = (root: number) => {
    stack.push(root);
    while (stack.length) {
      const v = stack.pop()!;
      if (dfs[v] !== NONE) continue;
      dfs[v] = visited++;
      effective[v] = parent[v] === NONE ? created[v]! : Math.max(created[v]!, effective[parent[v]!]!);
      const kids = children[v]!;
      for (let k = kids.length - 1; k >= 0; k--) stack.push(kids[k]!);
    }
  };
  visit(BASE);
  // Nodes caught in a parent cycle are unreachable: re-hang them on the base so that corrupt
  // data still draws instead of vanishing.
  for (let v = 0; v < total && visited < total; v++) {
    if (dfs[v] !== NONE) continue;
    parent[v] = BASE;
    visit(v);
  }

  // Rows: base first, Now last, the rest by effective time.
  const order = chronologicalOrder(n, effective, dfs);
  order.unshift(BASE);
  order.push(NOW);
  const row = new Int32Array(total);
  for (let r = 0; r < total; r++) row[order[r]!] = r;

  // Chains: a node continues its parent's chain when it is the parent's first child by row.
  const firstChild = new Int32Array(total).fill(NONE);
  const chainOf = new Int32Array(total);
  const chainFork: number[] = [];
  const chainFirst: number[] = [];
  const chainLast: number[] = [];
  for (let r = 0; r < total; r++) {
    const v = order[r]!;
    const p = parent[v]!;
    if (p !== NONE && firstChild[p] === NONE) {
      firstChild[p] = v;
      const c = chainOf[p]!;
      chainOf[v] = c;
      chainLast[c] = r;
    } else {
      const c = chainFork.length;
      chainOf[v] = c;
      chainFork.push(p === NONE ? NONE : row[p]!);
      chainFirst.push(r);
      chainLast.push(r);
    }
  }

  const { lane, lanes } = assignLanes(chainFork, chainFirst, chainLast);

  // Per-row drawing: forks leave their parent's row; a chain's lane passes through every row
  // between its fork (or previous node) and its next node.
  const forks: number[][] = new Array(total);
  const pass: number[][] = new Array(total);
  for (let c = 0; c < chainFork.length; c++) {
    const f = chainFork[c]!;
    if (f !== NONE) (forks[f] ??= []).push(lane[c]!);
  }
  const prevRow = chainFork.map((f, c) => (f === NONE ? chainFirst[c]! : f));
  for (let r = 0; r < total; r++) {
    const c = chainOf[order[r]!]!;
    for (let q = prevRow[c]! + 1; q < r; q++) (pass[q] ??= []).push(lane[c]!);
    prevRow[c] = r;
  }

  const rows: TreeRow[] = new Array(total);
  const indexByKey = new Map<string, number>();
  for (let r = 0; r < total; r++) {
    const v = order[r]!;
    const c = chainOf[v]!;
    const common = {
      lane: lane[c]!,
      up: parent[v] !== NONE,
      down: chainLast[c] !== r,
      forks: forks[r] ? forks[r]!.sort(byNumber) : EMPTY,
      pass: pass[r] ? pass[r]!.sort(byNumber) : EMPTY,
    };
    if (v === BASE) {
      rows[r] = { kind: 'base', key: BASE_KEY, ...common };
      indexByKey.set(BASE_KEY, r);
    } else if (v === NOW) {
      const p = parent[v]!;
      rows[r] = { kind: 'now', key: NOW_KEY, parentId: p < n ? snaps[p]!.id : null, ...common };
      indexByKey.set(NOW_KEY, r);
    } else {
      const kids = children[v]!;
      let childIds = EMPTY_IDS;
      let isCurrent = false;
      for (const k of kids) {
        if (k === NOW) isCurrent = true;
        else if (parent[k] === v) (childIds === EMPTY_IDS ? (childIds = []) : childIds).push(snaps[k]!.id);
      }
      if (childIds.length > 1) childIds.sort((a, b) => row[index.get(a)!]! - row[index.get(b)!]!);
      const s = snaps[v]!;
      rows[r] = { kind: 'snapshot', key: s.id, snapshot: s, isCurrent, childIds, ...common };
      indexByKey.set(s.id, r);
    }
  }
  if (previous) {
    for (let r = 0; r < total; r++) {
      const at = previous.indexByKey.get(rows[r]!.key);
      if (at !== undefined && sameRow(previous.rows[at]!, rows[r]!)) rows[r] = previous.rows[at]!;
    }
  }
  return { rows, lanes, indexByKey };
}

function sameRow(a: TreeRow, b: TreeRow): boolean {
  if (a.kind !== b.kind || a.lane !== b.lane || a.up !== b.up || a.down !== b.down || !sameList(a.forks, b.forks) || !sameList(a.pass, b.pass)) return false;
  if (a.kind === 'now') return a.parentId === (b as NowRow).parentId;
  if (a.kind === 'snapshot') {
    const o = b as SnapshotTreeRow;
    // Snapshot objects are kept across reloads when unchanged (store/sync.ts): identity suffices.
    return a.snapshot === o.snapshot && a.isCurrent === o.isCurrent && sameList(a.childIds, o.childIds);
  }
  return true;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const byNumber = (a: number, b: number) => a - b;

/**
 * Snapshots sorted by (effective time, depth-first index). Packs both into one float and uses
 * the typed array's native sort: a comparator called ~10,000 times is most of the cost of a
 * layout while the page's code is still cold (interpreted), and this runs on opening a box.
 */
function chronologicalOrder(n: number, effective: Float64Array, dfs: Int32Array): number[] {
  const bits = Math.max(1, Math.ceil(Math.log2(n + 3)));
  const scale = 2 ** bits;
  let exact = true;
  const keys = new Float64Array(n);
  const byDfs = new Int32Array(scale);
  for (let i = 0; i < n; i++) {
    const t = effective[i]!;
    const key = t * scale + dfs[i]!;
    // Millisecond timestamps leave room for the index up to ~4,000 snapshots; beyond that (or
    // for odd times) the packed key would lose bits, so fall back to the comparator.
    if (!Number.isInteger(t) || t < 0 || !Number.isSafeInteger(key)) exact = false;
    keys[i] = key;
    byDfs[dfs[i]!] = i;
  }
  if (!exact) {
    const order: number[] = [];
    for (let i = 0; i < n; i++) order.push(i);
    return order.sort((a, b) => effective[a]! - effective[b]! || dfs[a]! - dfs[b]!);
  }
  keys.sort();
  const order: number[] = new Array(n);
  for (let i = 0; i < n; i++) order[i] = byDfs[keys[i]! % scale]!;
  return order;
}

/** The engine never sends a snapshot twice; if it did, the first copy wins. */
function dedupe(snapshots: readonly Snapshot[]): readonly Snapshot[] {
  const seen = new Set<string>();
  for (const s of snapshots) {
    if (seen.has(s.id)) return snapshots.filter((x, i) => snapshots.findIndex((y) => y.id === x.id) === i);
    seen.add(s.id);
  }
  return snapshots;
}

/** Children of every node, oldest first (input order breaks ties). */
function childLists(parent: Int32Array, created: Float64Array, total: number): number[][] {
  const children: number[][] = new Array(total);
  for (let v = 0; v < total; v++) children[v] = EMPTY;
  for (let v = 0; v < total; v++) {
    const p = parent[v]!;
    if (p === NONE) continue;
    if (children[p] === EMPTY) children[p] = [v];
    else children[p]!.push(v);
  }
  for (let v = 0; v < total; v++) {
    const kids = children[v]!;
    if (kids.length > 1) kids.sort((a, b) => created[a]! - created[b]! || a - b);
  }
  return children;
}

/** Interval colouring, lowest free lane first: optimal when intervals come in start order. */
function assignLanes(fork: number[], first: number[], last: number[]): { lane: Int32Array; lanes: number } {
  const start = (c: number) => (fork[c] === NONE ? first[c]! : fork[c]!);
  const chains = fork.map((_, c) => c).sort((a, b) => start(a) - start(b) || first[a]! - first[b]!);
  const lane = new Int32Array(fork.length);
  const laneEnd: number[] = [];
  for (const c of chains) {
    const from = start(c);
    let l = 0;
    while (l < laneEnd.length && laneEnd[l]! >= from) l++;
    lane[c] = l;
    laneEnd[l] = last[c]!;
  }
  return { lane, lanes: Math.max(1, laneEnd.length) };
}
