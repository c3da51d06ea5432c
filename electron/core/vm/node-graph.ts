// A running QEMU's node map, rebuilt from QEMU's own block graph instead of trusting
// run/nodes.json: that file is written after the QMP step that changes the graph, so an owner
// killed in between leaves it stale (about 1 in 46 kills during a live remove did, and the
// next owner could not take control of the QEMU).
//
// The names say what a layer is (see nodes.ts): `q<n>`/`f<n>` the disk at start or a live
// snapshot's overlay, `qs<id>`/`fs<id>` snapshot <id>, `qimg`/`fimg` the image. The graph says
// which node backs onto which. Only a `q<n>` layer below the top needs telling which snapshot
// it is: that comes from an expected chain (the chain on disk, or the rows), which must agree
// with every name QEMU reports.
import { BOOT_DEVICE_ID } from './qemu.js';
import type { NodeMap, NodePair } from './nodes.js';
import type { QmpClient } from './qmp.js';

/** x-debug-query-block-graph: the only QMP command that names each node's file and backing child. */
export interface BlockGraph {
  nodes: { id: number; type: string; name: string }[];
  edges: { parent: number; child: number; name: string }[];
}

/** One layer of the chain Boxkeep expects, top first. */
export interface ExpectedLayer {
  /** The snapshot whose frozen disk this layer is; null for the live disk or a layer no row names. */
  snapshotId: string | null;
  image: boolean;
}

export const readBlockGraph = (qmp: QmpClient) => qmp.execute<BlockGraph>('x-debug-query-block-graph');

type Kind = { kind: 'generation'; n: number } | { kind: 'snapshot'; id: string } | { kind: 'image' } | { kind: 'unnamed' };

/** What a layer's node names say it is, or null when they are not a pair Boxkeep makes. */
function kindOf(pair: NodePair): Kind | null {
  if (!pair.format.startsWith('q') || pair.file !== `f${pair.format.slice(1)}`) return null;
  const suffix = pair.format.slice(1);
  if (/^\d+$/.test(suffix)) return { kind: 'generation', n: Number(suffix) };
  if (suffix === 'img') return { kind: 'image' };
  if (/^l\d+$/.test(suffix)) return { kind: 'unnamed' };
  if (/^s[A-Za-z0-9_-]+$/.test(suffix)) return { kind: 'snapshot', id: suffix.slice(1) };
  return null;
}

/**
 * The chain the boot device reads, top first, as QEMU holds it. A block job's filter (an
 * implicit node, named "#…", e.g. block-stream's copy-on-read) is stepped through.
 */
export function qemuChain(graph: BlockGraph): NodePair[] | string {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const child = (parent: number, name: string) => graph.edges.find((e) => e.parent === parent && e.name === name)?.child;
  const backend = graph.nodes.find((n) => n.type === 'block-backend' && n.name.includes(`/${BOOT_DEVICE_ID}/`));
  if (!backend) return `QEMU has no disk device ${BOOT_DEVICE_ID}`;
  const chain: NodePair[] = [];
  let id = child(backend.id, 'root');
  while (id !== undefined) {
    if (chain.length > graph.nodes.length) return 'QEMU reports a loop in its block graph';
    const node = byId.get(id);
    if (!node) return `QEMU's block graph names a node it does not list (${id})`;
    if (node.name.startsWith('#')) {
      id = child(id, 'file') ?? child(id, 'backing');
      continue;
    }
    const file = child(id, 'file');
    const fileName = file === undefined ? undefined : byId.get(file)?.name;
    if (!fileName) return `the QEMU layer ${node.name} has no file node`;
    chain.push({ format: node.name, file: fileName });
    id = child(id, 'backing');
  }
  return chain;
}

/**
 * The node map for QEMU's chain, if it agrees with `expected` layer for layer; otherwise why not.
 * The generation is the highest `<n>` QEMU uses anywhere, so the next live snapshot's names
 * cannot collide with a node left from an interrupted one.
 */
export function nodeMapFromGraph(graph: BlockGraph, chain: NodePair[], expected: ExpectedLayer[]): NodeMap | string {
  if (chain.length !== expected.length) return `QEMU reads ${chain.length} layers where ${expected.length} were expected`;
  const map: NodeMap = { generation: 0, top: chain[0]!, image: null, snapshots: {} };
  for (const [i, pair] of chain.entries()) {
    const kind = kindOf(pair);
    const want = expected[i]!;
    const where = `layer ${i + 1} of ${chain.length} (${pair.format})`;
    if (!kind) return `${where} is not a node Boxkeep made`;
    if (i === 0 && kind.kind !== 'generation') return `${where} cannot be the live disk`;
    if (kind.kind === 'snapshot' && kind.id !== want.snapshotId) return `${where} is snapshot ${kind.id} where ${want.snapshotId ?? 'no snapshot'} was expected`;
    if ((kind.kind === 'image') !== want.image) return `${where} ${want.image ? 'should be' : 'cannot be'} the image`;
    if (want.image) map.image = pair;
    else if (i > 0 && want.snapshotId) map.snapshots[want.snapshotId] = pair;
  }
  for (const node of graph.nodes) {
    const n = /^[qf](\d+)$/.exec(node.name);
    if (n) map.generation = Math.max(map.generation, Number(n[1]));
  }
  return map;
}

/**
 * Nodes Boxkeep made that nothing uses any more: a removed layer whose blockdev-del never ran,
 * an overlay whose snapshot was abandoned. Each keeps its file open, so a deleted snapshot's
 * space would never come back. Format nodes come before their file nodes (the deletion order).
 */
export function detachedNodes(graph: BlockGraph): string[] {
  const used = new Set<number>();
  const visit = (id: number) => {
    if (used.has(id)) return;
    used.add(id);
    for (const e of graph.edges) if (e.parent === id) visit(e.child);
  };
  for (const n of graph.nodes) if (n.type !== 'block-driver') visit(n.id);
  const ours = graph.nodes.filter((n) => n.type === 'block-driver' && !used.has(n.id) && /^[qf](\d+|s[A-Za-z0-9_-]+|img|l\d+)$/.test(n.name));
  return [...ours.filter((n) => n.name.startsWith('q')), ...ours.filter((n) => n.name.startsWith('f'))].map((n) => n.name);
}
