// The node map rebuilt from QEMU's block graph, on graphs of the shape QEMU 7.2's
// x-debug-query-block-graph returns (ids, node names, "root"/"file"/"backing" edges): the
// states a killed owner leaves that the VM tests reach only by chance.
import { describe, expect, it } from 'vitest';
import { detachedNodes, nodeMapFromGraph, qemuChain, type BlockGraph, type ExpectedLayer } from '../../electron/core/vm/nodes.js';

/** A graph from pairs top first; `extra` adds nodes (and edges) outside or inside the chain. */
function graph(pairs: [string, string][], extra: { nodes?: BlockGraph['nodes']; edges?: BlockGraph['edges'] } = {}): BlockGraph {
  const nodes: BlockGraph['nodes'] = [{ id: 1, type: 'block-backend', name: '/machine/peripheral/vd0/virtio-backend' }];
  const edges: BlockGraph['edges'] = [];
  pairs.forEach(([q, f], i) => {
    nodes.push({ id: 10 + 2 * i, type: 'block-driver', name: q }, { id: 11 + 2 * i, type: 'block-driver', name: f });
    edges.push({ parent: 10 + 2 * i, child: 11 + 2 * i, name: 'file' });
    if (i + 1 < pairs.length) edges.push({ parent: 10 + 2 * i, child: 12 + 2 * i, name: 'backing' });
  });
  edges.push({ parent: 1, child: 10, name: 'root' });
  return { nodes: [...nodes, ...(extra.nodes ?? [])], edges: [...edges, ...(extra.edges ?? [])] };
}

const live: ExpectedLayer = { snapshotId: null, image: false };
const snap = (id: string): ExpectedLayer => ({ snapshotId: id, image: false });
const image: ExpectedLayer = { snapshotId: null, image: true };

describe('the node map from QEMU\'s block graph', () => {
  it('names each live-snapshot layer after the snapshot the expected chain puts there', () => {
    const g = graph([['q2', 'f2'], ['q1', 'f1'], ['q0', 'f0'], ['qsaaaaaaaaaaaa', 'fsaaaaaaaaaaaa'], ['qimg', 'fimg']]);
    const map = nodeMapFromGraph(g, qemuChain(g) as never, [live, snap('cccccccccccc'), snap('bbbbbbbbbbbb'), snap('aaaaaaaaaaaa'), image]);
    expect(map).toEqual({
      generation: 2, top: { format: 'q2', file: 'f2' }, image: { format: 'qimg', file: 'fimg' },
      snapshots: { cccccccccccc: { format: 'q1', file: 'f1' }, bbbbbbbbbbbb: { format: 'q0', file: 'f0' }, aaaaaaaaaaaa: { format: 'qsaaaaaaaaaaaa', file: 'fsaaaaaaaaaaaa' } },
    });
  });

  it('steps through a block job\'s filter node, and counts the generation of nodes outside the chain', () => {
    // block-stream into q1 inserts a copy-on-read filter between q2 and q1; q3 is an abandoned overlay.
    const g = graph([['q2', 'f2'], ['q1', 'f1'], ['qimg', 'fimg']], {
      nodes: [{ id: 90, type: 'block-driver', name: '#block391' }, { id: 91, type: 'block-driver', name: 'q3' }, { id: 92, type: 'block-driver', name: 'f3' }],
      edges: [{ parent: 91, child: 92, name: 'file' }],
    });
    g.edges = g.edges.map((e) => (e.parent === 10 && e.name === 'backing' ? { ...e, child: 90 } : e));
    g.edges.push({ parent: 90, child: 12, name: 'file' });
    const chain = qemuChain(g);
    expect(chain).toEqual([{ format: 'q2', file: 'f2' }, { format: 'q1', file: 'f1' }, { format: 'qimg', file: 'fimg' }]);
    const map = nodeMapFromGraph(g, chain as never, [live, snap('bbbbbbbbbbbb'), image]);
    expect(typeof map === 'string' ? map : map.generation).toBe(3);
    expect(detachedNodes(g)).toEqual(['q3', 'f3']);
  });

  it('refuses an expected chain that disagrees with what QEMU\'s names say', () => {
    const g = graph([['q1', 'f1'], ['qsaaaaaaaaaaaa', 'fsaaaaaaaaaaaa'], ['qimg', 'fimg']]);
    const chain = qemuChain(g) as never;
    expect(nodeMapFromGraph(g, chain, [live, snap('bbbbbbbbbbbb'), image])).toMatch(/snapshot aaaaaaaaaaaa where bbbbbbbbbbbb was expected/);
    expect(nodeMapFromGraph(g, chain, [live, image])).toMatch(/QEMU reads 3 layers where 2 were expected/);
    expect(nodeMapFromGraph(g, chain, [live, snap('aaaaaaaaaaaa'), snap('cccccccccccc')])).toMatch(/cannot be the image/);
    const odd = graph([['q1', 'f1'], ['evil', 'fimg']]);
    expect(nodeMapFromGraph(odd, qemuChain(odd) as never, [live, image])).toMatch(/not a node Boxkeep made/);
  });

  it('says so when QEMU has no boot disk device', () => {
    expect(qemuChain({ nodes: [{ id: 1, type: 'block-driver', name: 'q0' }], edges: [] })).toMatch(/no disk device vd0/);
  });
});
