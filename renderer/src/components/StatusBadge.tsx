import type { BoxStatus } from '../../../shared/types.js';
import { statusLabel } from '../format.js';

/** Colour and words together: the colour alone would say nothing to many people. */
export function StatusBadge({ status }: { status: BoxStatus }) {
  return (
    <span className={`status status-${status}`} data-status={status}>
      <span className="status-dot" aria-hidden="true" />
      {statusLabel(status)}
    </span>
  );
}
