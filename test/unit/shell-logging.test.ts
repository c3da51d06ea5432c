// Logs: electron-log's real file transport, configured as the app and `boxkeep serve` do it,
// one structured line per operation, rotated at the size limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import log from 'electron-log/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldsOf, loggedRouter } from '../../electron/host/logged-router.js';
import { configureFileLog, formatLine, LOG_MAX_BYTES, logDir, rendererLevel, structuredLogger } from '../../electron/shell/logging.js';
import { ownedHome, type OwnedHome } from '../integration/host-fixtures.js';

describe('log files', () => {
  let dir: string;
  let h: OwnedHome;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bkl-'));
    h = await ownedHome();
  });
  afterAll(async () => {
    await h?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('puts logs where electron-log puts the app\'s, or in BOXKEEP_LOG_DIR', () => {
    expect(logDir({}, 'linux', '/home/u')).toBe('/home/u/.config/Boxkeep/logs');
    expect(logDir({ XDG_CONFIG_HOME: '/cfg' }, 'linux', '/home/u')).toBe('/cfg/Boxkeep/logs');
    expect(logDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Logs/Boxkeep');
    expect(logDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u')).toBe(path.join('C:\\Users\\u\\AppData\\Roaming', 'Boxkeep', 'logs'));
    expect(logDir({ BOXKEEP_LOG_DIR: '/var/log/bk' }, 'linux', '/home/u')).toBe('/var/log/bk');
  });

  it('writes each operation through the router as one line with box id, snapshot id and elapsed_ms', async () => {
    const logger = log.create({ logId: 'ops' });
    const file = configureFileLog(logger as never, 'ops.log', { dir });
    expect(logger.transports.file.maxSize).toBe(LOG_MAX_BYTES);
    const router = loggedRouter(h.owner.router, structuredLogger(logger, 'main'), 'ipc');
    const snap = (await router.invoke('snapshots:create', { box: 'alpha', name: 'logged' })) as { id: string };
    await router.invoke('boxes:list', {});
    await router.invoke('snapshots:remove', { box: 'alpha', snapshot: 'nope' }).catch(() => {});
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    const created = JSON.parse(lines[0]!.slice(lines[0]!.indexOf('{')));
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[info\] +snapshots:create \{/);
    expect(created).toMatchObject({ source: 'main', op: 'snapshots:create', boxId: h.boxId, snapshotId: snap.id, via: 'ipc' });
    expect(created.elapsed_ms).toBeGreaterThan(0);
    expect(lines[1]).toMatch(/\[warn\] +snapshots:remove refused \{/);
    expect(JSON.parse(lines[1]!.slice(lines[1]!.indexOf('{')))).toMatchObject({ boxId: 'alpha', snapshotId: 'nope', code: 'NotFound' });
  });

  it('rotates the file past its size limit, keeping the previous one as .old', () => {
    const logger = log.create({ logId: 'rot' });
    const file = configureFileLog(logger as never, 'rot.log', { dir });
    logger.transports.file.maxSize = 4096;
    const s = structuredLogger(logger);
    for (let i = 0; i < 80; i++) s.info('snapshots:create', { boxId: 'b'.repeat(26), snapshotId: String(i).padStart(26, '0'), elapsed_ms: i });
    expect(fs.existsSync(path.join(dir, 'rot.old.log'))).toBe(true);
    expect(fs.statSync(file).size).toBeLessThanOrEqual(4096 + 200);
    expect(fs.readFileSync(file, 'utf8')).toContain('"snapshotId":"00000000000000000000000079"');
  });

  it('formats fields as JSON after the message and maps Chromium console levels', () => {
    expect(formatLine('box created', { op: 'box-create', boxId: 'b1', skipped: undefined })).toBe('box created {"op":"box-create","boxId":"b1"}');
    expect(formatLine('plain')).toBe('plain');
    expect([0, 1, 2, 3, 'warning', 'error', 'debug'].map(rendererLevel)).toEqual(['info', 'info', 'warn', 'error', 'warn', 'error', 'info']);
    expect(fieldsOf('snapshots:restore', { box: 'web', snapshot: 'one' }, { box: { id: 'B' }, snapshot: { id: 'S' } })).toEqual({ op: 'snapshots:restore', boxId: 'B', snapshotId: 'S' });
    expect(fieldsOf('boxes:remove', { box: 'web' }, { removedId: 'B', freedBytes: 1 })).toEqual({ op: 'boxes:remove', boxId: 'B' });
  });
});
