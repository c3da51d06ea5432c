// The window's security settings, held as the issue states them, and the Electron wiring
// checked to use them (the wiring cannot run here, so its source is read).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CSP, SECURITY_HEADERS, webHostCsp } from '../../electron/host/ui-policy.js';
import { decideNavigation, decidePermission, decideWindowOpen, isOwnedExternalLink, isOwnOrigin, WEB_PREFERENCES } from '../../electron/shell/security.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
}

describe('window security settings', () => {
  it('turns on contextIsolation, sandbox and webSecurity, and nodeIntegration off everywhere', () => {
    expect(WEB_PREFERENCES).toMatchObject({
      contextIsolation: true, sandbox: true, webSecurity: true, nodeIntegration: false, nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false, allowRunningInsecureContent: false, webviewTag: false, experimentalFeatures: false,
    });
  });

  it('has a strict CSP: no inline or eval script, nothing remote; the window connects nowhere, a web-host page only to its own port', () => {
    for (const [policy, connect] of [[CSP, ["'self'"]], [webHostCsp(41234), ["'self'", 'ws://127.0.0.1:41234', 'ws://localhost:41234']]] as const) {
      const d = directives(policy);
      expect(d.get('default-src')).toEqual(["'none'"]);
      expect(d.get('script-src')).toEqual(["'self'"]);
      expect(d.get('object-src')).toEqual(["'none'"]);
      expect(d.get('base-uri')).toEqual(["'none'"]);
      expect(d.get('frame-ancestors')).toEqual(["'none'"]);
      expect(d.get('connect-src')).toEqual(connect);
      for (const [name, values] of d) {
        for (const value of values) {
          expect(value, `${name} ${value}`).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes|wasm-unsafe-eval|^\*$|^https?:|^wss:|^blob:|:\*$/);
        }
      }
    }
    expect(SECURITY_HEADERS['Content-Security-Policy']).toBe(CSP);
  });

  it('denies every navigation, and opens only our own https links outside', () => {
    expect(decideNavigation('https://evil.example/')).toEqual({ allow: false, openExternal: null });
    expect(decideNavigation('file:///etc/passwd')).toEqual({ allow: false, openExternal: null });
    expect(decideNavigation('https://boxkeep.dev/docs')).toEqual({ allow: false, openExternal: 'https://boxkeep.dev/docs' });
    expect(decideWindowOpen('https://github.com/boxkeep/boxkeep/issues')).toEqual({ action: 'deny', openExternal: 'https://github.com/boxkeep/boxkeep/issues' });
    expect(decideWindowOpen('javascript:alert(1)')).toEqual({ action: 'deny', openExternal: null });
  });

  it('treats only https links on our own hosts as ours', () => {
    for (const ok of ['https://boxkeep.dev/', 'https://docs.boxkeep.dev/x', 'https://github.com/boxkeep/boxkeep']) expect(isOwnedExternalLink(ok), ok).toBe(true);
    for (const bad of [
      'http://boxkeep.dev/', 'https://boxkeep.dev.evil.example/', 'https://evilboxkeep.dev/', 'https://github.com/someone-else/repo',
      'https://user:pw@boxkeep.dev/', 'https://boxkeep.dev:8443/', 'file:///home', 'smb://boxkeep.dev/share', 'not a url',
    ]) expect(isOwnedExternalLink(bad), bad).toBe(false);
  });

  it('refuses every permission', () => {
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'hid', 'unknown']) expect(decidePermission(p)).toBe(false);
  });

  it('knows its own origin, and the dev server only when one was started', () => {
    expect(isOwnOrigin('app://boxkeep/index.html', null)).toBe(true);
    expect(isOwnOrigin('app://other/index.html', null)).toBe(false);
    expect(isOwnOrigin('http://localhost:5173/', null)).toBe(false);
    expect(isOwnOrigin('http://localhost:5173/x', 'http://localhost:5173')).toBe(true);
    expect(isOwnOrigin('file:///index.html', null)).toBe(false);
  });
});

describe('the Electron wiring uses those settings', () => {
  const window = read('electron/main/window.main.ts');
  const main = read('electron/main/index.ts');
  const preload = read('electron/preload/index.ts');

  it('builds every window from WEB_PREFERENCES and overrides none of them', () => {
    const all = fs.readdirSync(path.join(ROOT, 'electron/main')).map((f) => read(`electron/main/${f}`)).join('\n');
    expect(all.match(/new BrowserWindow\(/g)).toHaveLength(1);
    // The block is spelled out in the wiring (so scanners see it); it must equal the policy.
    const block = /webPreferences: \{([^}]*)\}/.exec(window)![1]!;
    const written = Object.fromEntries(
      block.split('\n').map((l) => l.trim().replace(/,$/, '')).filter(Boolean).map((l) => {
        const [key, value] = l.split(/:\s*/) as [string, string];
        return [key, value === 'true' ? true : value === 'false' ? false : value.replace(/^'|'$/g, '')];
      }),
    );
    expect(written).toEqual({ ...WEB_PREFERENCES, preload: 'opts.preload' });
    expect(all).not.toMatch(/nodeIntegration\s*:\s*true|contextIsolation\s*:\s*false|sandbox\s*:\s*false|webSecurity\s*:\s*false/);
  });

  it('denies navigation, new windows, webviews and permissions through the shell policies', () => {
    expect(window).toContain('setWindowOpenHandler');
    expect(window).toMatch(/'will-navigate'[\s\S]*decideNavigation/);
    expect(window).toContain("'will-attach-webview'");
    expect(window).toMatch(/setPermissionRequestHandler\([\s\S]*decidePermission/);
    expect(window).toMatch(/setPermissionCheckHandler\([\s\S]*decidePermission/);
    expect(main).toContain('lockDownSession()');
  });

  it('opens external links only after the owned-link check', () => {
    const all = fs.readdirSync(path.join(ROOT, 'electron/main')).map((f) => read(`electron/main/${f}`)).join('\n');
    const calls = all.match(/shell\.openExternal\([^)]*\)/g) ?? [];
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(call).toMatch(/openExternal\((decision\.openExternal|url)\)/);
    expect(window).toMatch(/if \(isOwnedExternalLink\(url\)\) void shell\.openExternal\(url\)/);
  });

  it('exposes only the built bridge from the preload, never ipcRenderer itself', () => {
    expect(preload).toMatch(/contextBridge\.exposeInMainWorld\('boxkeep', bridge\)/);
    expect(preload.match(/exposeInMainWorld/g)).toHaveLength(1);
    expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer/);
  });
});
