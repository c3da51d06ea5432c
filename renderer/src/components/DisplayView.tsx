// The box's screen (Display tab, boxes with display vnc): noVNC on the box's display stream
// (displays:open), scaled to fit unless turned off, with full screen, Ctrl+Alt+Del and a
// screenshot (QEMU's, boxes:screenshot). While the screen has focus every key goes to the guest; Ctrl+Alt+G (or a click
// outside) gives the keyboard back, and the bar says so. A stopped box shows what to do instead.
// Like the Console tab, a stream that ends for another reason than the box stopping is joined
// again after a second.
import { useEffect, useRef, useState } from 'react';
import type { Box } from '../../../shared/types.js';
import { isActive } from '../../../shared/types.js';
import { useActions, useSession } from '../context.js';
import { createBoxScreen, type BoxScreen } from '../display/screen.js';
import { boxFileName } from '../format.js';
import { usePageVisible } from '../hooks.js';
import { screenReleaseLabel } from '../keyboard.js';
import { asBoxkeepError, errorText } from '../store/errors.js';

const RETRY_MS = 1000;
/**
 * A box is recorded as running before its QEMU is up (the supervisor's start), so a screen
 * asked for right as it starts is refused (InvalidState) until QEMU answers; QMP gets 15 s for
 * that. Within this long after the box became active, and before its screen ever showed, such
 * a refusal is the start still going on: the tab keeps saying "Connecting…" and asks again soon.
 */
const START_GRACE_MS = 15_000;
const START_RETRY_MS = 250;

type Link = { state: 'connecting' } | { state: 'open' } | { state: 'ended'; message: string } | { state: 'error'; message: string };

export function DisplayView({ box }: { box: Box }) {
  const actions = useActions();
  const { keys } = useSession();
  const view = useRef<HTMLDivElement>(null);
  const element = useRef<HTMLDivElement>(null);
  const screen = useRef<BoxScreen | null>(null);
  const [link, setLink] = useState<Link>({ state: 'connecting' });
  const [captured, setCaptured] = useState(false);
  const [fit, setFit] = useState(true);
  const [fullScreen, setFullScreen] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const active = isActive(box.status);
  const visible = usePageVisible();
  /** When the box became active, while its screen has not shown yet (see START_GRACE_MS). */
  const starting = useRef<number | null>(null);

  // Declared before the effect that joins the screen, so it runs first.
  useEffect(() => {
    starting.current = active ? Date.now() : null;
  }, [active, box.id]);

  useEffect(() => {
    if (!active || !visible) return;
    let cancelled = false;
    let retry: ReturnType<typeof setTimeout> | null = null;
    const again = (ms = RETRY_MS) => (retry = setTimeout(() => !cancelled && setAttempt((n) => n + 1), ms));
    setLink({ state: 'connecting' });
    actions.openDisplay(box.id).then(
      (stream) => {
        if (cancelled) return stream.close();
        screen.current = createBoxScreen(element.current!, box.name, stream, {
          connected: () => {
            starting.current = null;
            if (!cancelled) setLink({ state: 'open' });
          },
          captured: (on) => !cancelled && setCaptured(on),
          ended: (message, end) => {
            if (cancelled) return;
            screen.current?.dispose();
            screen.current = null;
            setCaptured(false);
            setLink({ state: 'ended', message });
            if (end?.reason !== 'box-stopped') again();
          },
        });
        screen.current.setScale(fitRef.current);
      },
      (err) => {
        if (cancelled) return;
        const since = starting.current;
        if (since !== null && !box.pendingRestart && asBoxkeepError(err).code === 'InvalidState' && Date.now() - since < START_GRACE_MS) {
          setLink({ state: 'connecting' });
          again(START_RETRY_MS);
          return;
        }
        setLink({ state: 'error', message: errorText(err) });
        again();
      },
    );
    return () => {
      cancelled = true;
      if (retry) clearTimeout(retry);
      screen.current?.dispose();
      screen.current = null;
      setCaptured(false);
    };
    // One screen per box and start: a rename (box.name) does not join again.
  }, [active, visible, box.id, attempt, actions]);

  const fitRef = useRef(fit);
  fitRef.current = fit;
  useEffect(() => {
    screen.current?.setScale(fit);
  }, [fit]);
  // The screen stays joined through a rename; its name follows.
  useEffect(() => {
    screen.current?.setLabel(box.name);
  }, [box.name]);

  useEffect(() => {
    const update = () => setFullScreen(document.fullscreenElement !== null && document.fullscreenElement === view.current);
    document.addEventListener('fullscreenchange', update);
    return () => document.removeEventListener('fullscreenchange', update);
  }, []);

  const toggleFullScreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void view.current?.requestFullscreen().then(() => screen.current?.focus(), () => {});
  };

  // QEMU's own picture (boxes:screenshot); the canvas's where QEMU's is refused (a screen
  // too large for one message, a box that just stopped): the canvas holds the same pixels.
  const saveScreenshot = async () => {
    const shown = screen.current;
    if (!shown) return;
    const png = await actions.screenshot(box.id).then(
      (bytes) => new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }),
      () => shown.png().catch(() => null),
    );
    if (png) downloadFile(png, boxFileName(box.name, '-screen.png'));
  };

  const open = link.state === 'open' && active;
  return (
    <div className="display" ref={view}>
      <div className="display-bar">
        <p className={`display-note${captured ? ' captured' : ''}`} role="status" data-testid="display-note">
          {noteFor(box, link, captured, screenReleaseLabel(keys))}
        </p>
        <div className="display-tools" role="toolbar" aria-label={`Screen of ${box.name}`}>
          <button type="button" className="button" aria-pressed={fit} onClick={() => setFit(!fit)} disabled={!open} title="Scale the guest’s screen to this window, or show it at its own size">
            Scale to fit
          </button>
          <button type="button" className="button" onClick={toggleFullScreen} disabled={!open}>
            {fullScreen ? 'Exit full screen' : 'Full screen'}
          </button>
          <button type="button" className="button" onClick={() => screen.current?.sendCtrlAltDel()} disabled={!open} title="Sends Ctrl+Alt+Del to the guest">
            Ctrl+Alt+Del
          </button>
          <button type="button" className="button" onClick={() => void saveScreenshot()} disabled={!open} title="Saves the guest’s screen as a PNG file">
            Screenshot
          </button>
        </div>
      </div>
      {active ? (
        <div ref={element} className="display-screen" data-testid="display-screen" />
      ) : (
        <div className="display-empty">
          <p>
            <strong>Start the box to see its screen.</strong>
          </p>
          <p className="hint">{box.status === 'failed' ? 'The box stopped unexpectedly; its screen comes back when it starts again.' : 'The screen shows here while the box runs.'}</p>
        </div>
      )}
    </div>
  );
}

/** Hands a file to the browser's download (the desktop app asks where to save it). */
function downloadFile(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function noteFor(box: Box, link: Link, captured: boolean, release: string): string {
  if (!isActive(box.status)) return box.status === 'stopping' ? 'The box is stopping…' : 'The box is not running.';
  if (link.state === 'error') return `Could not show the screen: ${link.message} Trying again…`;
  if (link.state === 'ended') return `${link.message} Joining again…`;
  if (link.state !== 'open') return 'Connecting to the screen…';
  if (captured) return `Keys go to the guest. Press ${release} or click outside the screen to release the keyboard.`;
  if (box.status === 'paused') return 'The box is paused; its screen moves again when it resumes.';
  return 'Click the screen to type into the guest.';
}
