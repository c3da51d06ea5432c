// The page's CSP allows stylesheets from 'self' only: no <style> element, no style attribute.
// xterm's DOM renderer writes its theme and cell sizes into <style> elements, and some cell
// colours (true colour, contrast fixes) into style attributes, which the CSP would refuse (and
// report as errors). CSP does not govern the CSSOM, so both are carried over to it: a <style>
// element about to be inserted becomes a constructed stylesheet (kept in step with its text,
// removed with it), and setAttribute('style', …) becomes the same assignment to style.cssText.
// Same rules, same cascade position (after the page's own sheets), no inline style at all.
//
// Only the terminal's own elements are carried: a <style> appended inside `.xterm`, a style
// attribute set inside it or on a cell span xterm is building (detached, about to go into a
// row). Anything else still meets the CSP as before, so this does not widen it for the page.

/** xterm's root element; its renderer puts its <style> elements under it. */
const TERMINAL = '.xterm';
let installed = false;

export function carryInlineStylesToCssom(doc: Document = document): void {
  if (installed) return;
  installed = true;
  const win = doc.defaultView!;
  const proto = win.Element.prototype;
  const nodeProto = win.Node.prototype;

  const inTerminal = (node: Node) => node instanceof win.Element && node.closest(TERMINAL) !== null;
  const isCellInTheMaking = (el: Element) => el instanceof win.HTMLSpanElement && el.parentNode === null;

  const setAttribute = proto.setAttribute;
  proto.setAttribute = function (this: Element, name: string, value: string) {
    if (name.toLowerCase() === 'style' && this instanceof win.HTMLElement && (inTerminal(this) || isCellInTheMaking(this))) {
      this.style.cssText = value;
      return;
    }
    setAttribute.call(this, name, value);
  };

  const adopt = (style: HTMLStyleElement) => {
    const sheet = new win.CSSStyleSheet();
    const sync = () => sheet.replaceSync(style.textContent ?? '');
    sync();
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
    const observer = new win.MutationObserver(sync);
    observer.observe(style, { childList: true, characterData: true, subtree: true });
    // The element never enters the document, so its own remove() would do nothing: drop the sheet.
    style.remove = () => {
      observer.disconnect();
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
    };
  };

  const appendChild = nodeProto.appendChild;
  nodeProto.appendChild = function <T extends Node>(this: Node, node: T): T {
    if (node instanceof win.HTMLStyleElement && inTerminal(this)) {
      adopt(node);
      return node;
    }
    return appendChild.call(this, node) as T;
  };
}
