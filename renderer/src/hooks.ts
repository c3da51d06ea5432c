import { useEffect, useState } from 'react';
import type { MemoryResume } from '../../shared/types.js';
import { useActions } from './context.js';

/** The current time, refreshed every `intervalMs`, so "5 minutes ago" does not go stale. */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** Whether the page is on screen (not a background tab, not a minimized window). */
export function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => document.visibilityState === 'visible');
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', update);
    return () => document.removeEventListener('visibilitychange', update);
  }, []);
  return visible;
}

/** The engine's answer to "can this snapshot's memory be resumed now?", or why it could not tell. */
export type ResumeAnswer = MemoryResume | { failed: string };

/**
 * Asks the engine whether a snapshot's kept memory can be resumed (the box's settings and this
 * QEMU must match the ones it was taken with), again whenever `askKey` changes; null asks
 * nothing. Null until the answer for the current key lands.
 */
export function useMemoryResume(boxId: string, snapshotId: string, askKey: string | null): ResumeAnswer | null {
  const actions = useActions();
  const [answer, setAnswer] = useState<{ key: string; value: ResumeAnswer } | null>(null);
  // An answer is for one snapshot of one box under one key: never shown for another.
  const key = askKey === null ? null : JSON.stringify([boxId, snapshotId, askKey]);
  useEffect(() => {
    if (key === null) return;
    let live = true;
    void actions.memoryResume(boxId, snapshotId).then((out) => live && setAnswer({ key, value: out.ok ? out.value : { failed: out.error.message } }));
    return () => void (live = false);
  }, [actions, boxId, snapshotId, key]);
  return answer && answer.key === key ? answer.value : null;
}

/** Why a resume is refused ('the engine did not say why' when it gave no reason); null when it is not refused or not yet known. */
export function refusedResume(answer: ResumeAnswer | null): string | null {
  return answer !== null && 'resumable' in answer && !answer.resumable ? answer.reason ?? 'the engine did not say why' : null;
}
