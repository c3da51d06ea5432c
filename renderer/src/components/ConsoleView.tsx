// The box's recent serial output. The contract has no console event, so while this tab is
// open on an active box it asks the main process for the tail once a second (the main process
// reads its own log; the UI never touches a file). It follows new lines unless the reader has
// scrolled up to look at older ones.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Box } from '../../../shared/types.js';
import { isActive } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
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
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    const tick = () =>
      void actions.refreshConsole(box.id).then(
        () => !stopped && setError(null),
        (err) => !stopped && setError(errorText(err)),
      );
    tick();
    if (!active) return () => void (stopped = true);
    const timer = setInterval(() => !stopped && tick(), FOLLOW_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [box.id, active, actions]);

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
        {active ? 'Serial console, following new output.' : `The box is ${box.status === 'failed' ? 'failed' : 'not running'}; this is its last output.`}
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
