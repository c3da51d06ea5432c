// The QEMU block graph of a running box, in one place: the node naming scheme, the node map
// (written to <runDir>/nodes.json), its transitions, and reading it back from QEMU.
//
// Block jobs need node names: QEMU's own filenames go stale after the renames a live snapshot
// does. Every layer is a pair of nodes, a file node `f…` under a format node `q…`: at start the
// live disk `f0`/`q0` (attached to device `vd0`), each snapshot `fs<id>`/`qs<id>`, the image
// `fimg`/`qimg`, a layer no row names `fl<i>`/`ql<i>`. A live snapshot adds `f<n>`/`q<n>` (the
// next generation, so names never collide within one QEMU process) as the new top, and the
// old top becomes that snapshot's layer.
//
// The map is written for people looking into a box, but never read back: a later owner
// rebuilds it from QEMU's own graph (nodeMapFromGraph), since an owner killed between a QMP
// step and the write leaves it stale (about 1 in 46 kills during a live remove did, and the
// next owner could not take control of the QEMU). The names say what a layer is; the graph
// says which node backs onto which. Only a `q<n>` layer below the top needs telling which
// snapshot it is: that comes from an expected chain (the chain on disk, or the rows), which
// must agree with every name QEMU reports.
import path from 'node:path';
import type { ChainLayer } from '../disk/chain.js';
import { writeFileAtomic } from '../fsutil.js';
import type { QmpClient } from './qmp.js';

/** The device the chain is attached to. */
export const BOOT_DEVICE_ID = 'vd0';

/** A device as QMP `query-block` lists it. */
export interface BlockDevice { qdev?: string; device?: string; inserted?: { 'node-name'?: string } }

/**
 * The top node of the box's disk, from `query-block`. By the device's id, never "the first with
 * a medium": a UEFI box lists OVMF's flash chips before it, a box with an installer its CD-ROM.
 */
export function bootDiskTop(devices: BlockDevice[]): string | undefined {
  return devices.find((d) => d.qdev === BOOT_DEVICE_ID || d.qdev?.includes(`/${BOOT_DEVICE_ID}/`))?.inserted?.['node-name'];
}

const FORMAT = 'q';
const FILE = 'f';

export interface NodePair { format: string; file: string }

const pairOf = (suffix: string): NodePair => ({ format: `${FORMAT}${suffix}`, file: `${FILE}${suffix}` });

/** The live disk at start (generation 0), and each live snapshot's overlay after it. */
export const generationNodes = (generation: number) => pairOf(String(generation));
const snapshotNodes = (id: string) => pairOf(`s${id}`);
const IMAGE_NODES = pairOf('img');
const unnamedNodes = (index: number) => pairOf(`l${index}`);

type Kind = { kind: 'generation'; n: number } | { kind: 'snapshot'; id: string } | { kind: 'image' } | { kind: 'unnamed' };

/** What a layer's node names say it is, or null when they are not a pair Boxkeep makes. */
function kindOf(nodes: NodePair): Kind | null {
  if (!nodes.format.startsWith(FORMAT) || nodes.file !== `${FILE}${nodes.format.slice(FORMAT.length)}`) return null;
  return kindOfSuffix(nodes.format.slice(FORMAT.length));
}

function kindOfSuffix(suffix: string): Kind | null {
  if (/^\d+$/.test(suffix)) return { kind: 'generation', n: Number(suffix) };
  if (suffix === 'img') return { kind: 'image' };
  if (/^l\d+$/.test(suffix)) return { kind: 'unnamed' };
  if (/^s[A-Za-z0-9_-]+$/.test(suffix)) return { kind: 'snapshot', id: suffix.slice(1) };
  return null;
}

/**
 * Can this layer's nodes become the live disk as they are (a live commit pivots onto them)? A
 * generation pair can: every one has a plain read-write file node (the top's at start, a live
 * snapshot's overlay, a live commit's renamed layer), which takes writes without reopening its
 * file by name. A snapshot's or the image's pair, opened at start, is named for what it was, over
 * an auto-read-only file node that reopens its file by name (chainBlockdevs).
 */
export const mayBecomeTop = (pair: NodePair) => kindOf(pair)?.kind === 'generation';

/** Is this a node name Boxkeep makes (either half of a pair)? */
const isOurs = (name: string) => (name.startsWith(FORMAT) || name.startsWith(FILE)) && kindOfSuffix(name.slice(1)) !== null;

/** The generation a node name carries, or null. */
function generationOf(name: string): number | null {
  const kind = isOurs(name) ? kindOfSuffix(name.slice(1)) : null;
  return kind?.kind === 'generation' ? kind.n : null;
}

export interface NodeMap {
  generation: number;
  top: NodePair;
  image: NodePair | null;
  /** snapshot id → its layer's nodes */
  snapshots: Record<string, NodePair>;
}

export const nodesFile = (runDir: string) => path.join(runDir, 'nodes.json');

/**
 * A record for whoever looks, never read back: adoption rebuilds the map from QEMU's own graph
 * (supervisor.ts nodeMapFor). Replaced in one rename, but not fsynced: it describes a running
 * QEMU, and a power cut that could lose it ends that QEMU too. Each live operation writes it
 * once or twice; the two fsyncs were a millisecond of each.
 */
export function writeNodes(runDir: string, map: NodeMap): void {
  writeFileAtomic(nodesFile(runDir), JSON.stringify(map));
}

// ---- transitions

/** A live snapshot's overlay: the top of the next generation. */
export function nextTop(map: NodeMap): { generation: number; newTop: NodePair } {
  const generation = map.generation + 1;
  return { generation, newTop: generationNodes(generation) };
}

/** After a live snapshot's switch: the overlay is the top, the old top the snapshot's layer. */
export function afterSwitch(map: NodeMap, s: { generation: number; newTop: NodePair; oldTop: NodePair; snapshotId: string }): NodeMap {
  return { ...map, generation: s.generation, top: s.newTop, snapshots: { ...map.snapshots, [s.snapshotId]: s.oldTop } };
}

/** After a removed layer's nodes are dropped. */
export function withoutSnapshot(map: NodeMap, snapshotId: string): NodeMap {
  const snapshots = { ...map.snapshots };
  delete snapshots[snapshotId];
  return { ...map, snapshots };
}

/**
 * The -blockdev options for a chain (top first, as walkChain returns it), bottom first so each
 * node exists before the one naming it as backing. Backing layers are read-only qcow2 nodes
 * over file nodes with auto-read-only, which lets a block job reopen one read-write and lets
 * qemu-img read them while the box runs.
 */
export function chainBlockdevs(layers: ChainLayer[], snapshotIdOf: (file: string) => string | null): { args: string[]; nodes: NodeMap } {
  const nodes: NodeMap = { generation: 0, top: generationNodes(0), image: null, snapshots: {} };
  const pairs: NodePair[] = layers.map((layer, i) => {
    if (i === 0) return nodes.top;
    const id = snapshotIdOf(layer.path);
    if (id) return (nodes.snapshots[id] = snapshotNodes(id));
    if (i === layers.length - 1) return (nodes.image = IMAGE_NODES);
    return unnamedNodes(i);
  });
  const args: string[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const pair = pairs[i]!;
    const top = i === 0;
    const backing = i + 1 < layers.length ? pairs[i + 1]!.format : null;
    args.push('-blockdev', JSON.stringify({ driver: 'file', filename: layer.path, 'node-name': pair.file, ...(top ? {} : { 'read-only': false, 'auto-read-only': true }) }));
    args.push('-blockdev', JSON.stringify({ driver: layer.format, file: pair.file, 'node-name': pair.format, ...(top ? {} : { 'read-only': true }), ...(layer.format === 'qcow2' ? { backing } : {}) }));
  }
  return { args, nodes };
}

// ---- reading it back from QEMU

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
    const n = generationOf(node.name);
    if (n !== null) map.generation = Math.max(map.generation, n);
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
  const ours = graph.nodes.filter((n) => n.type === 'block-driver' && !used.has(n.id) && isOurs(n.name));
  return [...ours.filter((n) => n.name.startsWith(FORMAT)), ...ours.filter((n) => n.name.startsWith(FILE))].map((n) => n.name);
}
