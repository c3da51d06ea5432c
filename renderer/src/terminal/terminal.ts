// The xterm.js terminal of the Console tab, set up once per box: 10,000 lines of scrollback,
// fitted to its element, Ctrl+Shift+C / Ctrl+Shift+V for copy and paste (plain Ctrl+C and
// Ctrl+V belong to the guest, as in any terminal), the app's take-snapshot chord left to the
// page, and output written with back-pressure so a guest printing fast cannot flood the page:
// past HIGH bytes waiting to be drawn the stream is paused, and resumed once xterm has drawn
// them down to LOW.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { ByteStream } from '../../../shared/streams.js';

export const SCROLLBACK_LINES = 10_000;
const HIGH = 512 * 1024;
const LOW = 128 * 1024;

export interface BoxTerminal {
  term: Terminal;
  fit(): void;
  /** Shows what a stream brings and sends what is typed into it, until it ends; returns the detach. */
  connect(stream: ByteStream): () => void;
  /** A line of our own (not the guest's), dimmed so it reads as a note. */
  note(text: string): void;
  dispose(): void;
}

/** `claims`: a key the page keeps from the guest (the app's take-snapshot chord); it is left to bubble to the page's handler. */
export function createBoxTerminal(element: HTMLElement, label: string, claims: (e: KeyboardEvent) => boolean = () => false): BoxTerminal {
  const term = new Terminal({
    scrollback: SCROLLBACK_LINES,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 13,
    cursorBlink: false,
    screenReaderMode: false,
    theme: { background: '#15191e', foreground: '#e6e9ee' },
  });
  const fitAddon = new FitAddon();
  term.loadAddon(fitAddon);
  term.open(element);
  term.textarea?.setAttribute('aria-label', `Terminal of ${label}`);
  const fit = () => {
    // Hidden (zero size) it has nothing to fit to; a later resize fits it.
    if (element.clientWidth > 0 && element.clientHeight > 0) fitAddon.fit();
  };
  fit();
  const resize = new ResizeObserver(() => fit());
  resize.observe(element);

  term.attachCustomKeyEventHandler((e) => {
    if (claims(e)) return false;
    if (e.type !== 'keydown' || !(e.ctrlKey && e.shiftKey) || e.altKey || e.metaKey) return true;
    if (e.code === 'KeyC') {
      e.preventDefault();
      if (term.hasSelection()) void copyText(term.getSelection());
      return false;
    }
    if (e.code === 'KeyV') {
      e.preventDefault();
      void pasteInto(term);
      return false;
    }
    return true;
  });

  let input: ((data: string) => void) | null = null;
  const encoder = new TextEncoder();
  term.onData((data) => input?.(data));
  term.onBinary((data) => input?.(data));

  return {
    term,
    fit,
    connect(stream) {
      let waiting = 0;
      let paused = false;
      const offData = stream.onData((bytes) => {
        waiting += bytes.length;
        if (!paused && waiting > HIGH) {
          paused = true;
          stream.pause();
        }
        term.write(bytes, () => {
          waiting -= bytes.length;
          if (paused && waiting < LOW) {
            paused = false;
            stream.resume();
          }
        });
      });
      input = (data) => {
        if (!stream.ended) stream.write(encoder.encode(data));
      };
      return () => {
        offData();
        input = null;
      };
    },
    note: (text) => term.write(`\r\n\x1b[2m${text}\x1b[0m\r\n`),
    dispose() {
      resize.disconnect();
      term.dispose();
    },
  };
}

/**
 * Reads the clipboard (a browser asks the person once; the desktop app grants no clipboard
 * permission, so there the editor's own paste command runs, landing in xterm's paste handler).
 */
async function pasteInto(term: Terminal): Promise<void> {
  try {
    term.paste(await navigator.clipboard.readText());
  } catch {
    term.focus();
    if (!document.execCommand('paste')) term.write('\r\n\x1b[2mPaste with Edit → Paste (this window may not read the clipboard).\x1b[0m\r\n');
  }
}

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (the desktop app grants none): the copy event still works.
    const onCopy = (e: ClipboardEvent) => {
      e.clipboardData?.setData('text/plain', text);
      e.preventDefault();
    };
    document.addEventListener('copy', onCopy, { once: true });
    document.execCommand('copy');
    document.removeEventListener('copy', onCopy);
  }
}
