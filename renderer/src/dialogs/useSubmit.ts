import { useCallback, useRef, useState } from 'react';
import type { ActionResult } from '../store/actions.js';

/** Runs a dialog's action once at a time; keeps its error for the dialog to show inline. */
export function useSubmit<T>(run: () => Promise<ActionResult<T>>, onDone: (value: T) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = useRef(false);
  const submit = useCallback(async () => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setError(null);
    try {
      const out = await run();
      if (out.ok) onDone(out.value);
      else setError(out.error.message);
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, [run, onDone]);
  return { busy, error, submit, setError };
}

/**
 * A form dialog's submit (import image, new box): the first attempt marks the form touched,
 * so every problem shows, and the action runs only when nothing is wrong.
 */
export function useFormSubmit<T>(invalid: boolean, run: () => Promise<ActionResult<T>>, onDone: (value: T) => void) {
  const [touched, setTouched] = useState(false);
  const { busy, error, submit } = useSubmit(run, onDone);
  const onSubmit = () => {
    setTouched(true);
    if (!invalid) void submit();
  };
  return { busy, error, touched, touch: () => setTouched(true), onSubmit, blocked: touched && invalid };
}
