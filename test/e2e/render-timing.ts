// Reads the page's own measure of a tree render (boxkeep:tree-render: tree data in the store
// → first frame painted with it) and, from a Chromium trace of the same window, how much CPU
// the page's main thread actually spent in it. On a machine whose cores are shared, the wall
// time also counts the moments the thread waited for a core; the CPU time is the page's work.
import type { BrowserContext, Page } from 'playwright-core';

export interface RenderTiming {
  /** Wall time of the performance measure, in ms. */
  wall: number;
  /** CPU time of the main thread's tasks inside that window, in ms. */
  cpu: number;
  snapshots: number;
}

const MEASURE = 'boxkeep:tree-render';

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tdur?: number;
  pid: number;
  tid: number;
  args?: { detail?: string; data?: unknown };
}

/** Runs `act`, waits for the render of a tree with `snapshots` snapshots, and times it. */
export async function timeTreeRender(context: BrowserContext, page: Page, snapshots: number, act: () => Promise<void>): Promise<RenderTiming> {
  const cdp = await context.newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (d) => void events.push(...(d.value as unknown as TraceEvent[])));
  const complete = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
  await cdp.send('Tracing.start', { categories: 'disabled-by-default-devtools.timeline,blink.user_timing', transferMode: 'ReportEvents' });
  try {
    const before = await page.evaluate((name) => performance.getEntriesByName(name).length, MEASURE);
    await act();
    const wall = await page.waitForFunction(
      ([name, from, count]) => {
        const found = performance.getEntriesByName(name as string).slice(from as number).find((e) => (e as any).detail?.snapshots === count);
        return found ? found.duration : null;
      },
      [MEASURE, before, snapshots] as const,
      { timeout: 30_000, polling: 100 },
    );
    const duration = (await wall.jsonValue()) as number;
    await cdp.send('Tracing.end');
    await complete;
    return { wall: duration, cpu: mainThreadCpu(events, snapshots), snapshots };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

function mainThreadCpu(events: TraceEvent[], snapshots: number): number {
  // The measure shows up as an async pair; several renders may be in the trace, take ours.
  const begins = events.filter((e) => e.name === MEASURE && e.ph === 'b');
  const ends = events.filter((e) => e.name === MEASURE && e.ph === 'e');
  const begin = begins.find((b) => JSON.stringify(b.args ?? {}).includes(`"snapshots":${snapshots}`)) ?? begins.at(-1);
  if (!begin) return Number.NaN;
  const end = ends.find((e) => e.ts >= begin.ts && e.tid === begin.tid);
  if (!end) return Number.NaN;
  let cpu = 0;
  for (const e of events) {
    if (e.ph !== 'X' || e.name !== 'RunTask' || e.pid !== begin.pid || e.tid !== begin.tid || !e.dur) continue;
    const from = Math.max(e.ts, begin.ts);
    const to = Math.min(e.ts + e.dur, end.ts);
    if (to <= from) continue;
    // Thread time of the task, prorated to the part of it inside the window.
    cpu += (to - from) * ((e.tdur ?? e.dur) / e.dur);
  }
  return cpu / 1000;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
