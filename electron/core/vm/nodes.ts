// QEMU block node names for a box's chain (block jobs need node names: QEMU's own filenames go
// stale after the renames a live snapshot does). The map is written to <runDir>/nodes.json for
// people looking into a box, but never read back: a later owner rebuilds it from QEMU itself
// (node-graph.ts), since an owner killed between a QMP step and the write leaves it stale.
//
// At start every layer is its own pair of -blockdev nodes: the live disk `f0`/`q0`, each
// snapshot `fs<id>`/`qs<id>`, the image `fimg`/`qimg`. A live snapshot adds `f<n>`/`q<n>` as
// the new top and the old top becomes that snapshot's layer.
import path from 'node:path';
import type { ChainLayer } from '../disk/chain.js';
import { writeFileDurable } from '../fsutil.js';

export interface NodePair { format: string; file: string }

export interface NodeMap {
  generation: number;
  top: NodePair;
  image: NodePair | null;
  /** snapshot id → its layer's nodes */
  snapshots: Record<string, NodePair>;
}

export const nodesFile = (runDir: string) => path.join(runDir, 'nodes.json');

export function writeNodes(runDir: string, map: NodeMap): void {
  writeFileDurable(nodesFile(runDir), JSON.stringify(map));
}

/**
 * The -blockdev options for a chain (top first, as walkChain returns it), bottom first so each
 * node exists before the one naming it as backing. Backing layers are read-only qcow2 nodes
 * over file nodes with auto-read-only, which lets a block job reopen one read-write and lets
 * qemu-img read them while the box runs.
 */
export function chainBlockdevs(layers: ChainLayer[], snapshotIdOf: (file: string) => string | null): { args: string[]; nodes: NodeMap } {
  const nodes: NodeMap = { generation: 0, top: { format: 'q0', file: 'f0' }, image: null, snapshots: {} };
  const pairs: NodePair[] = layers.map((layer, i) => {
    if (i === 0) return nodes.top;
    const id = snapshotIdOf(layer.path);
    if (id) return (nodes.snapshots[id] = { format: `qs${id}`, file: `fs${id}` });
    if (i === layers.length - 1) return (nodes.image = { format: 'qimg', file: 'fimg' });
    return { format: `ql${i}`, file: `fl${i}` };
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
