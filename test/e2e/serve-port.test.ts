// `boxkeep serve --port 0` means "any free port", as it does for listen(2): the address it
// prints names the port the system gave, and the page loads from it.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRenderer, newHome, REPO, requireE2eTools, serve, type Served, type TestHome } from './harness.js';

let t: TestHome;
let rendererDir: string;
const running: Served[] = [];

beforeAll(async () => {
  requireE2eTools();
  rendererDir = await buildRenderer();
  t = newHome();
});

afterAll(async () => {
  for (const s of running) await s.stop();
  t?.cleanup();
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('boxkeep serve --port', () => {
  it('0 picks a free port, prints it in the address, and serves the page there', async () => {
    const served = await serve(t.home, rendererDir, { args: ['--port', '0'] });
    running.push(served);
    const port = Number(new URL(served.url).port);
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThanOrEqual(65535);
    const page = await get(served.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Boxkeep</title>');
  });

  it('refuses a port out of range, saying 0 means any free port', () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'boxkeep.mjs'), '--home', path.join(t.dir, 'untouched'), 'serve', '--port', '65536'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('The port must be between 1 and 65535, or 0 for any free port (got 65536).');
  });
});
