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
// retry, a hidden page), since every join starts over from the log (the terminal's own
// scrollback past the log's last lines, and colours, do not come back). Another tab of the box
// is no join: BoxView keeps this terminal, hidden, once opened. What the guest prints
// in the instant between the two may show twice. A terminal that followed its stream to a stop
// keeps its text; one that was not following reads the log once to show the last output. (The
// two cannot be matched byte for byte: QEMU 7.2 writes a byte to the log twice each time the
// socket makes it wait, so the log is not an exact copy of the stream under a flood of output.)
import { useEffect, useRef, useState } from 'react';
import type { ByteStream } from '../../../shared/streams.js';
import type { Box } from '../../../shared/types.js';
import { isActive } from '../../../shared/types.js';
import { useActions, useSession } from '../context.js';
import { consoleClaims, shortcutLabel, type KeyHost } from '../keyboard.js';
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
  const { keys } = useSession();
  const element = useRef<HTMLDivElement>(null);
  const [terminal, setTerminal] = useState<BoxTerminal | null>(null);
  const [link, setLink] = useState<Link>({ state: 'idle' });
  const [attempt, setAttempt] = useState(0);
  const stream = useRef<ByteStream | null>(null);
  /** The terminal in use (null once disposed): a log read that comes back later writes only to it. */
  const current = useRef<BoxTerminal | null>(null);
  /**
   * The terminal shows all the log has: read after its stream opened and followed since, or
   * followed to a stop. False once it stops following otherwise (a hidden page, an error): the
   * next view of it reads the log again.
   */
  const showsLog = useRef(false);
  /** Only the latest log read writes (a join and a view of a stopped box may both be reading). */
  const reads = useRef(0);
  // Kept while stopping too, so the end of the stream (and why) reaches the screen.
  const active = isActive(box.status) || box.status === 'stopping';
  const visible = usePageVisible();

  useEffect(() => {
    const t = createBoxTerminal(element.current!, box.name, (e) => consoleClaims(e, keys));
    current.current = t;
    showsLog.current = false;
    setTerminal(t);
    return () => {
      current.current = null;
      t.dispose();
      setTerminal(null);
    };
    // One terminal per box: a rename (box.name) does not start it over.
  }, [box.id, actions, keys]);

  useEffect(() => {
    if (!terminal) return;
    if (!active || !visible) {
      // Not following the guest: the terminal shows the log as it is (read once, until a join).
      if (!showsLog.current) void seed(terminal);
      return;
    }
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
        // Written even when the stream ends meanwhile (a box that stops as the tab joins): the
        // log then is the box's last output.
        await seed(terminal);
        if (cancelled) return;
        detach = terminal.connect(s);
        setLink({ state: 'open' });
        s.onClose((end) => {
          detach();
          if (stream.current === s) stream.current = null;
          // Followed to a stop, the terminal has the box's last output; after any other end it may not.
          if (end.reason !== 'box-stopped') showsLog.current = false;
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
        if (!showsLog.current) void seed(terminal);
        setLink({ state: 'error', message: errorText(err) });
        again();
      },
    );
    return () => {
      cancelled = true;
      if (retry) clearTimeout(retry);
      detach();
      const s = stream.current;
      // Let go while still open (a hidden page): what comes meanwhile is only in the log.
      if (s && s.ended === null) showsLog.current = false;
      s?.close();
      stream.current = null;
    };
  }, [terminal, active, visible, box.id, attempt, actions]);

  /**
   * The terminal starts over with the log's last lines; an open last line (a prompt) is where
   * the next bytes go on. Its own earlier text goes (the log has it; colours and the scrollback
   * past SEED_LINES do not come back), once what was written to it before has been drawn.
   */
  async function seed(t: BoxTerminal): Promise<void> {
    const read = ++reads.current;
    const stale = () => current.current !== t || reads.current !== read;
    try {
      const out = await actions.readConsole(box.id, SEED_LINES);
      if (stale()) return;
      await new Promise<void>((drawn) => t.term.write('', drawn));
      if (stale()) return;
      t.term.reset();
      if (out.lines.length > 0) t.term.write(out.lines.join('\r\n') + (out.open ? '' : '\r\n'));
      showsLog.current = true;
    } catch (err) {
      if (!stale()) t.note(`Could not read the console log: ${errorText(err)}`);
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
          {noteFor(box, link, keys)}
        </p>
        <button type="button" className="button" onClick={fitGuest} disabled={link.state !== 'open'} title="Types “stty rows R cols C” into the guest, so full-screen programs use this window’s size">
          Fit guest to window
        </button>
      </div>
      <div ref={element} className="console-term" role="region" aria-label={`Terminal of ${box.name}`} data-testid="terminal" />
    </div>
  );
}

function noteFor(box: Box, link: Link, keys: KeyHost): string {
  if (box.status === 'stopping') return 'The box is stopping…';
  if (!isActive(box.status)) return `The box is ${box.status === 'failed' ? 'failed' : 'not running'}; this is its last output. Start it to use the terminal.`;
  if (link.state === 'error') return `Could not join the terminal: ${link.message} Trying again…`;
  if (link.state === 'ended') return `${link.message} Joining again…`;
  if (link.state !== 'open') return 'Joining the serial terminal…';
  if (box.status === 'paused') return 'The box is paused; the terminal follows again when it resumes.';
  return `Serial terminal: what you type goes to the guest. Ctrl+Shift+C copies, Ctrl+Shift+V pastes, ${shortcutLabel('takeSnapshot', keys)} takes a snapshot.`;
}
