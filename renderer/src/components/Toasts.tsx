// Short confirmations that go away on their own, and errors that stay until read. They have the
// window's last row to themselves (styles/dialogs.css), so none ever covers a control.
import { useEffect } from 'react';
import { useActions, useApp } from '../context.js';
import type { Toast } from '../store/state.js';
import { Icon } from './icons.js';

const SUCCESS_MS = 6000;

export function Toasts() {
  const toasts = useApp((s) => s.toasts);
  // Two live regions: errors interrupt (alert), confirmations wait their turn (status).
  return (
    <div className={toasts.length > 0 ? 'toasts some' : 'toasts'}>
      <div role="status" aria-live="polite" className="toast-stack">
        {toasts.filter((t) => t.kind !== 'error').map((t) => (
          <ToastItem key={t.id} toast={t} />
        ))}
      </div>
      <div role="alert" className="toast-stack">
        {toasts.filter((t) => t.kind === 'error').map((t) => (
          <ToastItem key={t.id} toast={t} />
        ))}
      </div>
    </div>
  );
}

function ToastItem({ toast }: { toast: Toast }) {
  const actions = useActions();
  useEffect(() => {
    if (toast.kind === 'error') return;
    const timer = setTimeout(() => actions.dismissToast(toast.id), SUCCESS_MS);
    return () => clearTimeout(timer);
  }, [toast, actions]);
  return (
    <div className={`toast toast-${toast.kind}`} data-testid={`toast-${toast.kind}`}>
      <p className="toast-message">{toast.message}</p>
      <button type="button" className="icon-button" aria-label="Dismiss this message" onClick={() => actions.dismissToast(toast.id)}>
        <Icon name="close" />
      </button>
    </div>
  );
}
