// The box's serial terminal: an xterm.js terminal showing the last lines of the serial log
// (boxes:console), joined to the live console stream while the box runs or is paused. When the
// stream ends the terminal says why ("The box stopped.") and keeps its text; once the box runs
// again it joins again. A serial line carries no window size, so "Fit guest to window" types
// `stty rows R cols C` into the guest's shell for it.
//
// Each join opens the stream first and reads the log after it, then shows the log's lines and
// the stream's bytes from its start (they wait in the stream until it is read): nothing the
// guest prints around the join is missed, the ready line or login prompt of a box booting as
// the tab opens included, nor what it printed while the terminal was away (a stop and start, a
// retry, a hidden page), since every join shows the log afresh. What the guest prints in the
// instant between the two may show twice. (The two cannot be matched byte for byte: QEMU 7.2
// writes a byte to the log twice each time the socket makes it wait, so the log is not an
// exact copy of the stream under a flood of output.)
import { useEffect, useRef, useState } from 'react';
import type { ByteStream } from '../../../shared/streams.js';
import type { Box } from '../../../shared/types.js';
import { isActive } from '../../../shared/types.js';
import { useActions } from '../context.js';
import { usePageVisible } from '../hooks.js';
import { errorText } from '../store/errors.js';
import { createBoxTerminal, type BoxTerminal } from '../terminal/terminal.js';

/** Lines of the serial log the terminal starts with. */
const SEED_LINES = 1000;
/** A stream that could not open or broke (not a stop) is tried again after this long. */
const RETRY_MS = 1000;

type Link = { state: 'idle' } | { state: 'connecting' } | { state: 'open' } | { state: 'ended'; message: string } | { state: 'error'; message: string };

export function ConsoleView({ box }: { box: Box }) {
  const actions = useActions();
  const element = useRef<HTMLDivElement>(null);
  const [terminal, setTerminal] = useState<BoxTerminal | null>(null);
  const [seeded, setSeeded] = useState(false);
  const [link, setLink] = useState<Link>({ state: 'idle' });
  const [attempt, setAttempt] = useState(0);
  const stream = useRef<ByteStream | null>(null);
  /** The terminal shows the log's lines (a join, or a failed one, need not read them again). */
  const showsLog = useRef(false);
  // Kept while stopping too, so the end of the stream (and why) reaches the screen.
  const active = isActive(box.status) || box.status === 'stopping';
  const visible = usePageVisible();

  useEffect(() => {
    const t = createBoxTerminal(element.current!, box.name);
    setTerminal(t);
    setSeeded(false);
    showsLog.current = false;
    let cancelled = false;
    // A box that runs is seeded by its join (below), after the stream opened; one that does not, here.
    if (active) setSeeded(true);
    else void seed(t, () => cancelled).finally(() => !cancelled && setSeeded(true));
    return () => {
      cancelled = true;
      t.dispose();
      setTerminal(null);
    };
    // One terminal per box: a rename (box.name) does not start it over.
  }, [box.id, actions]);

  useEffect(() => {
    if (!terminal || !seeded || !active || !visible) return;
    let cancelled = false;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let detach = () => {};
    const again = () => (retry = setTimeout(() => !cancelled && setAttempt((n) => n + 1), RETRY_MS));
    setLink({ state: 'connecting' });
    actions.openConsole(box.id).then(
      async (s) => {
        if (cancelled) return s.close();
        stream.current = s;
        // Read after the stream opened, so its first bytes follow on from the log's last ones.
        terminal.term.reset();
        await seed(terminal, () => cancelled || s.ended !== null);
        if (cancelled) return;
        detach = terminal.connect(s);
        setLink({ state: 'open' });
        s.onClose((end) => {
          detach();
          if (stream.current === s) stream.current = null;
          if (cancelled) return;
          terminal.note(end.message);
          setLink({ state: 'ended', message: end.message });
          // A stop ends it for good (the box's state says when to join again); anything else is retried.
          if (end.reason !== 'box-stopped') again();
        });
      },
      (err) => {
        if (cancelled) return;
        // No stream, but the last output still shows (once: each retry would read it again).
        if (!showsLog.current) void seed(terminal, () => cancelled);
        setLink({ state: 'error', message: errorText(err) });
        again();
      },
    );
    return () => {
      cancelled = true;
      if (retry) clearTimeout(retry);
      detach();
      stream.current?.close();
      stream.current = null;
    };
  }, [terminal, seeded, active, visible, box.id, attempt, actions]);

  /** The terminal shows the log's last lines; an open last line (a prompt) is where the next bytes go on. */
  async function seed(t: BoxTerminal, gone: () => boolean): Promise<void> {
    try {
      const out = await actions.readConsole(box.id, SEED_LINES);
      if (gone()) return;
      if (out.lines.length > 0) t.term.write(out.lines.join('\r\n') + (out.open ? '' : '\r\n'));
      showsLog.current = true;
    } catch (err) {
      if (!gone()) t.note(`Could not read the console log: ${errorText(err)}`);
    }
  }

  const fitGuest = () => {
    if (!terminal || !stream.current) return;
    terminal.fit();
    stream.current.write(new TextEncoder().encode(`stty rows ${terminal.term.rows} cols ${terminal.term.cols}\n`));
    terminal.term.focus();
  };

  return (
    <div className="console">
      <div className="console-bar">
        <p className="console-note" role="status">
          {noteFor(box, link)}
        </p>
        <button type="button" className="button" onClick={fitGuest} disabled={link.state !== 'open'} title="Types “stty rows R cols C” into the guest, so full-screen programs use this window’s size">
          Fit guest to window
        </button>
      </div>
      <div ref={element} className="console-term" role="region" aria-label={`Terminal of ${box.name}`} data-testid="terminal" />
    </div>
  );
}

function noteFor(box: Box, link: Link): string {
  if (box.status === 'stopping') return 'The box is stopping…';
  if (!isActive(box.status)) return `The box is ${box.status === 'failed' ? 'failed' : 'not running'}; this is its last output. Start it to use the terminal.`;
  if (link.state === 'error') return `Could not join the terminal: ${link.message} Trying again…`;
  if (link.state === 'ended') return `${link.message} Joining again…`;
  if (link.state !== 'open') return 'Joining the serial terminal…';
  if (box.status === 'paused') return 'The box is paused; the terminal follows again when it resumes.';
  return 'Serial terminal: what you type goes to the guest. Ctrl+Shift+C copies, Ctrl+Shift+V pastes.';
}
