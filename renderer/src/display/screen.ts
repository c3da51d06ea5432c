// The guest's screen in the Display tab: noVNC's RFB client on the box's display stream (see
// rfb-channel.ts), scaled to fit its element unless asked not to. noVNC takes the keyboard
// while its canvas has focus: every key goes to the guest (noVNC stops each key event at the
// canvas, so the app's shortcuts never see them) except the release chord, caught here before
// noVNC sees it, which hands the keyboard back. Whenever the canvas loses focus (the chord, a
// click elsewhere, the window losing focus) noVNC is told to release every key it holds down
// in the guest, so no Ctrl stays pressed there.
import RFB from '@novnc/novnc';
import type { ByteStream, StreamEnd } from '../../../shared/streams.js';
import { isScreenRelease } from '../keyboard.js';
import { endText, RfbChannel } from './rfb-channel.js';

export interface ScreenEvents {
  /** The RFB handshake finished: the guest's picture is coming. */
  connected(): void;
  /** The keyboard went to the guest (true) or came back (false). */
  captured(captured: boolean): void;
  /** The screen is gone, with the sentence to show; `end` is null if noVNC gave up on its own. */
  ended(message: string, end: StreamEnd | null): void;
}

export interface BoxScreen {
  canvas: HTMLCanvasElement;
  setScale(fit: boolean): void;
  /** What assistive technology calls the screen: the box's name (it may change while shown). */
  setLabel(label: string): void;
  sendCtrlAltDel(): void;
  /** The guest's picture at its own size, as PNG. */
  png(): Promise<Blob>;
  focus(): void;
  release(): void;
  dispose(): void;
}

export function createBoxScreen(element: HTMLElement, label: string, stream: ByteStream, events: ScreenEvents): BoxScreen {
  let end: StreamEnd | null = stream.ended;
  stream.onClose((e) => (end = e));
  const rfb = new RFB(element, new RfbChannel(stream), { shared: true });
  rfb.scaleViewport = true;
  rfb.background = 'transparent';
  const canvas = element.querySelector('canvas')!;
  // Reachable with Tab as well as by a click; named for assistive technology.
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'application');
  canvas.setAttribute('aria-roledescription', 'guest screen');
  const setLabel = (name: string) => canvas.setAttribute('aria-label', `Screen of ${name}`);
  setLabel(label);
  canvas.classList.add('guest-screen');
  canvas.dataset.testid = 'guest-screen';

  let disposed = false;
  /** noVNC's disconnected state is final: disconnecting it again only logs an error. */
  let gone = false;
  const releaseKeys = () => {
    // noVNC's keyboard sends a key up for every key it holds down when the window loses focus
    // (its grab listens for that): the same event for the canvas losing it. (Toggling viewOnly
    // does not do it: noVNC drops those key ups because it is view-only by then, so Ctrl and
    // Alt of Ctrl+Alt+G stayed down in the guest.)
    window.dispatchEvent(new FocusEvent('blur'));
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (!isScreenRelease(e)) return;
    e.preventDefault();
    e.stopPropagation();
    canvas.blur();
  };
  const onFocus = () => events.captured(true);
  const onBlur = () => {
    if (disposed) return;
    releaseKeys();
    events.captured(false);
  };
  element.addEventListener('keydown', onKeyDown, { capture: true });
  canvas.addEventListener('focus', onFocus);
  canvas.addEventListener('blur', onBlur);
  rfb.addEventListener('connect', () => events.connected());
  rfb.addEventListener('disconnect', () => {
    gone = true;
    if (!disposed) events.ended(end ? endText(end) : 'The screen disconnected.', end);
  });

  return {
    canvas,
    setScale: (fit) => (rfb.scaleViewport = fit),
    setLabel,
    sendCtrlAltDel: () => rfb.sendCtrlAltDel(),
    png: () => new Promise((resolve, reject) => rfb.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('The screen has no picture yet.'))), 'image/png')),
    focus: () => rfb.focus({ preventScroll: true }),
    release: () => canvas.blur(),
    dispose() {
      disposed = true;
      element.removeEventListener('keydown', onKeyDown, { capture: true });
      canvas.removeEventListener('focus', onFocus);
      canvas.removeEventListener('blur', onBlur);
      if (!gone) rfb.disconnect();
    },
  };
}
