// The box's recent serial output. The contract has no console event, so it asks the main
// process for the tail (the main process reads its own log; the UI never touches a file): once
// when the tab opens or the box changes state, and once a second only while all of these hold:
// this tab is shown (the component is mounted only then), the box is running (a paused or
// stopped guest writes nothing), and the page is on screen. It follows new lines unless the
// reader has scrolled up to look at older ones.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Box } from '../../../shared/types.js';
import { isActive } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { usePageVisible } from '../hooks.js';
import { errorText } from '../store/errors.js';

const FOLLOW_MS = 1000;
const EMPTY: string[] = [];

export function ConsoleView({ box }: { box: Box }) {
  const actions = useActions();
  const lines = useApp((s) => s.consoles[box.id] ?? EMPTY);
  const loaded = useApp((s) => box.id in s.consoles);
  const ref = useRef<HTMLPreElement>(null);
  const following = useRef(true);
  const active = isActive(box.status);
  const running = box.status === 'running';
  const visible = usePageVisible();
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!visible) return;
    let stopped = false;
    const tick = () =>
      void actions.refreshConsole(box.id).then(
        () => !stopped && setError(null),
        (err) => !stopped && setError(errorText(err)),
      );
    tick();
    const timer = running ? setInterval(() => !stopped && tick(), FOLLOW_MS) : null;
    return () => {
      stopped = true;
      if (timer !== null) clearInterval(timer);
    };
  }, [box.id, box.status, running, visible, actions]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (el && following.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const onScroll = () => {
    const el = ref.current;
    if (el) following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };

  return (
    <div className="console">
      <p className="console-note">
        {running
          ? 'Serial console, following new output.'
          : active
            ? `The box is ${box.status}; the console follows again when it resumes.`
            : `The box is ${box.status === 'failed' ? 'failed' : 'not running'}; this is its last output.`}
      </p>
      {error && (
        <p className="inline-error" role="alert">
          Could not read the console: {error}
        </p>
      )}
      <pre ref={ref} className="console-out" tabIndex={0} role="log" aria-label={`Serial console of ${box.name}`} onScroll={onScroll} data-testid="console">
        {loaded ? (lines.length ? lines.join('\n') : 'No output yet.') : error ? '' : 'Loading…'}
      </pre>
    </div>
  );
}
