// app://boxkeep/ requests answered from the built renderer, with the security headers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appResponse, APP_INDEX_URL } from '../../electron/shell/app-protocol.js';
import { CSP } from '../../electron/host/ui-policy.js';

describe('app:// protocol', () => {
  let dir: string;
  let root: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bkp-'));
    root = path.join(dir, 'renderer');
    fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>Boxkeep</title>');
    fs.writeFileSync(path.join(root, 'assets', 'index-1.js'), 'export {}');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'assets', 'link.js'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves index.html and assets with the CSP and their types', () => {
    const index = appResponse(root, 'GET', APP_INDEX_URL);
    expect(index.status).toBe(200);
    expect(String(index.body)).toContain('<title>Boxkeep</title>');
    expect(index.headers['Content-Security-Policy']).toBe(CSP);
    expect(index.headers['Content-Type']).toBe('text/html; charset=utf-8');
    const js = appResponse(root, 'GET', 'app://boxkeep/assets/index-1.js');
    expect(js).toMatchObject({ status: 200, headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
    expect(appResponse(root, 'GET', 'app://boxkeep/boxes/123').body.toString()).toContain('<title>Boxkeep</title>');
  });

  it('refuses anything outside the renderer folder, other hosts and other methods', () => {
    expect(appResponse(root, 'GET', 'app://boxkeep/%2e%2e/secret.txt').status).toBe(400);
    expect(appResponse(root, 'GET', 'app://boxkeep/..%2fsecret.txt').status).toBe(400);
    expect(appResponse(root, 'GET', 'app://boxkeep/assets/link.js').status).toBe(400);
    expect(appResponse(root, 'GET', 'app://boxkeep/.env').status).toBe(400);
    expect(appResponse(root, 'GET', 'app://elsewhere/index.html').status).toBe(404);
    expect(appResponse(root, 'GET', 'app://boxkeep/missing.js').status).toBe(404);
    expect(appResponse(root, 'POST', APP_INDEX_URL).status).toBe(405);
  });
});
