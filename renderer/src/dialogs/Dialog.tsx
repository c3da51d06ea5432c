// A modal built on <dialog>: the browser traps focus, makes the page behind it inert and
// closes it on Escape. While work is running the dialog stays open (Escape is ignored) so the
// person sees the outcome of what they asked for.
import { useEffect, useId, useRef, type FormEvent, type ReactNode } from 'react';

interface Props {
  title: string;
  /** The sentence(s) explaining the consequence; read out when the dialog opens. */
  description?: ReactNode;
  busy?: boolean;
  onClose(): void;
  onSubmit(): void;
  children?: ReactNode;
  footer: ReactNode;
  className?: string;
}

export function Dialog({ title, description, busy = false, onClose, onSubmit, children, footer, className }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const descId = useId();
  const busyRef = useRef(busy);
  busyRef.current = busy;

  useEffect(() => {
    const dialog = ref.current!;
    // Put focus back where it was (the button that opened us) when the dialog goes away.
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    // A control has the focus, as the keyboard expects: the browser leaves none focused when the
    // first one is disabled (a restore with nothing to save first), and Enter then did nothing.
    const focused = document.activeElement;
    if (!focused || focused === dialog || !dialog.contains(focused)) {
      dialog.querySelector<HTMLElement>('input:not([disabled]), select:not([disabled]), textarea:not([disabled]), button[type="submit"]:not([disabled])')?.focus();
    }
    return () => {
      dialog.close();
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!busyRef.current) onSubmit();
  };

  return (
    <dialog
      ref={ref}
      className={`dialog ${className ?? ''}`}
      aria-labelledby={titleId}
      aria-describedby={description ? descId : undefined}
      onCancel={(e) => {
        e.preventDefault();
        if (!busyRef.current) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <h2 id={titleId} className="dialog-title">
          {title}
        </h2>
        {description && (
          <div id={descId} className="dialog-desc">
            {description}
          </div>
        )}
        {children}
        <div className="dialog-footer">{footer}</div>
      </form>
    </dialog>
  );
}

/** The error of the last attempt, worded by the main process, shown where the eye already is. */
export function DialogError({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p className="inline-error dialog-error" role="alert">
      {message}
    </p>
  );
}

interface ButtonsProps {
  /** While true both buttons are disabled and the submit button shows busyLabel. */
  busy?: boolean;
  /** Further reasons the submit button is off (invalid or unchanged input). */
  disabled?: boolean;
  label: ReactNode;
  busyLabel?: ReactNode;
  /** primary for a safe action, danger for one that destroys data. */
  tone: 'primary' | 'danger';
  onCancel(): void;
  /** Extra buttons, shown between Cancel and the submit button. */
  children?: ReactNode;
}

/** The usual footer: Cancel, any extra buttons, then the button that submits the dialog. */
export function DialogButtons({ busy = false, disabled = false, label, busyLabel = label, tone, onCancel, children }: ButtonsProps) {
  return (
    <>
      <button type="button" className="button" onClick={onCancel} disabled={busy}>
        Cancel
      </button>
      {children}
      <button type="submit" className={`button ${tone}`} disabled={busy || disabled}>
        {busy ? busyLabel : label}
      </button>
    </>
  );
}
