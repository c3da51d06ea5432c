// A handful of line icons drawn inline (no icon font: the CSP allows only our own files, and
// SVG scales with the text). Always decorative: the button around each one carries the name.
import type { ReactElement } from 'react';

const PATHS = {
  play: 'M7 5v14l11-7z',
  stop: 'M6 6h12v12H6z',
  pause: 'M7 5h4v14H7zM13 5h4v14h-4z',
  camera: 'M4 8h3l2-3h6l2 3h3v11H4zM12 10.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7z',
  terminal: 'M3 5h18v14H3zM6 9l3 3-3 3M11 15h6',
  plus: 'M12 5v14M5 12h14',
  import: 'M12 4v11M7 10l5 5 5-5M5 19h14',
  trash: 'M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12',
  edit: 'M4 20h4L19 9l-4-4L4 16zM13 7l4 4',
  restore: 'M4 12a8 8 0 1 0 2.3-5.7M4 4v4h4',
  close: 'M6 6l12 12M18 6L6 18',
  alert: 'M12 3l10 18H2zM12 10v5M12 17.5v.5',
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name }: { name: IconName }): ReactElement {
  const filled = name === 'play' || name === 'stop' || name === 'pause';
  return (
    <svg className="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
      <path d={PATHS[name]} fill={filled ? 'currentColor' : 'none'} stroke="currentColor" strokeWidth={filled ? 0 : 1.8} strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}
