// Draws one row's slice of the snapshot graph: the lines passing through, the node, and the
// curves to branches that start here. Rows are independent, so the virtualized list can draw
// any window of them.
import type { TreeRow } from './layout.js';

export const ROW_HEIGHT = 56;
const LANE_WIDTH = 16;
const PAD = 12;
const LANE_COLOURS = 6;

export const graphWidth = (lanes: number) => PAD * 2 + (lanes - 1) * LANE_WIDTH;
const x = (lane: number) => PAD + lane * LANE_WIDTH;
const laneClass = (lane: number) => `lane-${lane % LANE_COLOURS}`;

export function TreeGraph({ row, lanes }: { row: TreeRow; lanes: number }) {
  const h = ROW_HEIGHT;
  const cy = h / 2;
  const nx = x(row.lane);
  return (
    <svg className="tree-graph" width={graphWidth(lanes)} height={h} aria-hidden="true" focusable="false">
      {row.pass.map((lane) => (
        <line key={`p${lane}`} className={laneClass(lane)} x1={x(lane)} y1={0} x2={x(lane)} y2={h} />
      ))}
      {row.up && <line className={row.kind === 'now' ? 'now-line' : laneClass(row.lane)} x1={nx} y1={0} x2={nx} y2={cy} />}
      {row.down && <line className={laneClass(row.lane)} x1={nx} y1={cy} x2={nx} y2={h} />}
      {row.forks.map((lane) => (
        <path key={`f${lane}`} className={laneClass(lane)} d={`M${nx},${cy} C${nx},${h} ${x(lane)},${cy} ${x(lane)},${h}`} fill="none" />
      ))}
      <Node row={row} cx={nx} cy={cy} />
    </svg>
  );
}

function Node({ row, cx, cy }: { row: TreeRow; cx: number; cy: number }) {
  if (row.kind === 'base') return <rect className="node node-base" x={cx - 5} y={cy - 5} width={10} height={10} rx={2} />;
  if (row.kind === 'now') return <circle className="node node-now" cx={cx} cy={cy} r={6} />;
  return <circle className={`node node-snapshot ${laneClass(row.lane)}${row.isCurrent ? ' current' : ''}`} cx={cx} cy={cy} r={row.isCurrent ? 6 : 5} />;
}
