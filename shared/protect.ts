// AutoProtect's rules shared by the engine, the CLI and the renderer: the preset, the words
// for a policy, and the parsers of "30m" and "02:00". One source, so a form and a flag agree.
import type { ProtectPolicy } from './types.js';

/** The smallest interval: a snapshot of a running box is cheap, but not free (a pause, a layer). */
export const MIN_EVERY_MINUTES = 1;
export const MAX_EVERY_MINUTES = 7 * 24 * 60;
export const MAX_KEEP = 10_000;

export const POLICY_OFF: ProtectPolicy = {
  enabled: false, everyMinutes: null, dailyAt: null, beforeStop: false,
  keepLast: 0, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0,
};

/** One click: hourly while running and before each stop; a day of hours, a week of days, a month of weeks, half a year of months. */
export const PROTECT_PRESET: ProtectPolicy = {
  enabled: true, everyMinutes: 60, dailyAt: null, beforeStop: true,
  keepLast: 5, keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 6,
};

/** "30m", "2h", "1h30m", "45" (minutes) → minutes; null when it is not such a duration. */
export function parseMinutes(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (/^\d{1,6}$/.test(t)) return Number(t);
  const m = /^(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m(?:in)?)?$/.exec(t);
  if (!m || (!m[1] && !m[2] && !m[3])) return null;
  return Number(m[1] ?? 0) * 1440 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** "HH:MM" on a 24-hour clock; null when it is fine, else what is wrong. */
export function dailyProblem(text: string): string | null {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (!m) return `The daily time ${JSON.stringify(text.slice(0, 20))} must be written HH:MM on a 24-hour clock, such as 02:00.`;
  if (Number(m[1]) > 23 || Number(m[2]) > 59) return `The daily time ${text} is not a time of day; use 00:00 to 23:59.`;
  return null;
}

export function formatMinutes(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return minutes > 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
}

/** "every 1 h of running time, daily at 02:00, before each stop; keeps last 5, 24 hourly, …" */
export function describePolicy(p: ProtectPolicy): string {
  if (!p.enabled) return 'off';
  const when = [
    p.everyMinutes !== null ? `every ${formatMinutes(p.everyMinutes)} of running time` : null,
    p.dailyAt !== null ? `daily at ${p.dailyAt}` : null,
    p.beforeStop ? 'before each stop' : null,
  ].filter(Boolean);
  const keeps = ([['last', p.keepLast], ['hourly', p.keepHourly], ['daily', p.keepDaily], ['weekly', p.keepWeekly], ['monthly', p.keepMonthly]] as const)
    .filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`);
  return `${when.length ? when.join(', ') : 'no schedule'}; keeps ${keeps.length ? keeps.join(', ') : 'every automatic snapshot'}`;
}

/** "in 12 min", "in 2 h 5 min", "now": how the tray and the box view say when the next one comes. */
export function untilText(at: number, now: number): string {
  const minutes = Math.ceil((at - now) / 60_000);
  if (minutes <= 0) return 'now';
  if (minutes < 60) return `in ${minutes} min`;
  const h = Math.floor(minutes / 60);
  return `in ${h} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** Whether a policy keeps nothing by any rule: then every automatic snapshot is kept (nothing pruned). */
export const keepsAll = (p: ProtectPolicy) => p.keepLast + p.keepHourly + p.keepDaily + p.keepWeekly + p.keepMonthly === 0;
