// The router over each transport, with the real core on a temporary home: in-process, the
// Electron IPC path (sender check + preload bridge + renderer transport, minus Electron), the
// WebSocket host, and the control socket. Every channel, stream channels included (opened as
// streams where the transport carries them), gets bad input of every kind; each
// must come back InvalidArgument and leave the database rows and the home's files as they were.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { channels, CHANNELS, isStreamChannel, type Channel } from '../../shared/channels.js';
import { BoxkeepError } from '../../shared/errors.js';
import { connectControl, type ControlClient } from '../../electron/host/control-client.js';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { connectBridge, type SocketFactory } from '../../renderer/src/transport.js';
import { electronBridge } from '../helpers/streams.js';
import { ownedHome, type OwnedHome } from './host-fixtures.js';
import { publicKey } from '../helpers/ssh-keys.js';

type Call = (channel: Channel, raw: unknown) => Promise<unknown>;

interface Transport {
  name: string;
  call: Call;
  /** Stream transports refuse frames over 1 MB before parsing; see host-web and host-control tests. */
  framed: boolean;
  /** Takes any channel name; the typed bridges only have verbs for real channels. */
  raw: boolean;
}

/** Calls a verb of a typed bridge by channel name, with whatever input the test wants. */
function viaBridge(bridge: Record<string, unknown>): Call {
  return (channel, raw) => {
    const [area, verb] = channel.split(':') as [string, string];
    return (bridge[area] as Record<string, (input: unknown) => Promise<unknown>>)[verb]!(raw);
  };
}

const VALID: Record<string, unknown> = {
  box: 'alpha', snapshot: 'first', image: 'seed', name: 'fresh-name', description: 'words', path: '/nonexistent/disk.qcow2',
  kernelPath: '/nonexistent/vmlinuz', initrdPath: '/nonexistent/initrd', append: 'console=ttyS0',
  diskSizeGiB: 1, memoryMib: 64, cpus: 1, lines: 10, force: false, snapshotCurrentFirst: false, stopFirst: false, startAfter: false,
  network: 'nat', forwards: ['8080:80', '127.0.0.1:2222:22/tcp'], stopTimeoutSec: 5, display: 'vnc',
  cloudInitUser: 'ada', cloudInitPassword: 'pass word', cloudInitSshKeys: [publicKey()], cloudInitHostname: 'web-1',
};

interface FieldInfo { key: string; type: 'string' | 'number' | 'boolean' | 'picklist' | 'array'; required: boolean }

function fieldsOf(channel: Channel): FieldInfo[] {
  const entries = (channels[channel].input as unknown as { entries: Record<string, { type: string; wrapped?: { type: string } }> }).entries;
  return Object.entries(entries).map(([key, e]) => ({
    key, required: e.type !== 'optional', type: (e.type === 'optional' ? e.wrapped!.type : e.type) as FieldInfo['type'],
  }));
}

function validInput(channel: Channel): Record<string, unknown> {
  return Object.fromEntries(fieldsOf(channel).map((f) => [f.key, VALID[f.key]]));
}

const NAME_FIELDS = new Set(['name']);
const REF_FIELDS = new Set(['box', 'snapshot', 'image']);
const PATH_FIELDS = new Set(['path', 'kernelPath', 'initrdPath']);
/** Channels whose `path` names a file inside a guest filesystem (looking inside snapshots), not one on the host. */
const GUEST_PATH_CHANNELS = new Set<string>(['snapshots:files', 'snapshots:getFile', 'snapshots:putFile']);
const DESCRIPTION_FIELDS = new Set(['description']);
/** Port forward lists: each spec wrong in one way, or two specs wanting one host port. */
export const BAD_FORWARDS: unknown[][] = [
  ['80'], ['8080'], ['0:80'], ['65536:80'], ['8080:0'], ['8080:65536'], ['-1:80'], ['8080:80/sctp'], ['8080:80/'], ['localhost:8080:80'],
  ['1.2.3:8080:80'], ['256.0.0.1:8080:80'], ['::1:8080:80'], ['8080:80:22'], ['08080x:80'], [' '], [''], ['8080:80\n'], ['8080:80,hostfwd=tcp::1-:2'],
  ['8080:80', '8080:81'], ['127.0.0.1:8080:80', '0.0.0.0:8080:22'], [123], [null], [['8080:80']], Array.from({ length: 65 }, (_, i) => `${1000 + i}:80`),
];

/** Cloud-init values that break one rule each (shared/cloud-init.ts). */
export const BAD_CLOUD_INIT: Record<string, unknown[]> = {
  cloudInitUser: ['', 'Ada', '1ada', 'ad a', 'ad:min', 'root', 'x'.repeat(33), 'new\nline', '../etc', 'é'],
  cloudInitPassword: ['', 'two\nlines', 'tab\there', 'nul\u0000', 'x'.repeat(1025), 'x'.repeat(257), 'ä'.repeat(129)],
  cloudInitSshKeys: [[''], ['hello'], ['ssh-ed25519'], ['ssh-ed25519 not*base64'], ['ssh-ed25519 QUJDRA=='], [publicKey('ssh-rsa', 'x', 'ssh-ed25519')],
    [`${publicKey()}\n${publicKey()}`], [publicKey('ssh-ed25519', 'rtl\u202Eexe')], ['-----BEGIN OPENSSH PRIVATE KEY-----'], ['ssh-dss AAAAB3NzaC1kc3M='],
    Array.from({ length: 33 }, () => publicKey()), [123]],
  cloudInitHostname: ['', '-web', 'web-', 'we_b', 'a..b', '.web', 'a'.repeat(64), '10.0.2.15', 'wéb', 'web\n'],
};

/** Keys that an `in` check finds on Object.prototype; each must be refused as unknown. */
export const PROTOTYPE_KEYS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__proto__'];
/** Invisible characters that make a name display as something else ("\u202Eexe.txt" shows as "txt.exe"). */
export const INVISIBLE_NAMES = [
  '\u202Eexe.txt', 'line\u2028sep', 'para\u2029sep', 'zero\u200Bwidth', 'non\u200Cjoiner', 'joi\u200Dner', 'word\u2060joiner',
  '\uFEFFbom', 'soft\u00ADhyphen', '\u2066isolate\u2069', '\u2067rtl', '\u2068first', 'ltr\u202Doverride', 'mark\u200F', 'tag\u{E0001}',
];
/** What a description may not carry even though it may span lines. */
export const BAD_DESCRIPTIONS = ['\u202Ereversed', 'iso\u2066late', 'line\u2028sep', 'para\u2029sep', 'carriage\rreturn', 'escape\u001b[2J', 'nul\u0000'];

/** Every bad input for a channel, each with a label saying what is wrong with it. */
export function badInputs(channel: Channel, opts: { hugeBytes: number }): Array<[string, unknown]> {
  const valid = validInput(channel);
  const out: Array<[string, unknown]> = [
    ['a string instead of an object', 'alpha'],
    ['a number instead of an object', 42],
    ['an array instead of an object', [valid]],
    ['true instead of an object', true],
    ['an unknown field', { ...valid, sneaky: 1 }],
    ['an empty array instead of an object', []],
    ['an array carrying the fields', Object.assign([], valid)],
    ['a Date instead of an object', new Date(0)],
  ];
  for (const key of PROTOTYPE_KEYS) out.push([`an own key named ${key}`, { ...valid, ...JSON.parse(`{${JSON.stringify(key)}: 1}`) }]);
  const huge = 'x'.repeat(opts.hugeBytes);
  for (const f of fieldsOf(channel)) {
    const with_ = (value: unknown) => ({ ...valid, [f.key]: value });
    if (f.required) {
      const { [f.key]: _dropped, ...rest } = valid;
      out.push([`${f.key} missing`, rest]);
    }
    out.push([`${f.key} null`, with_(null)], [`${f.key} an object`, with_({ id: 'alpha' })], [`${f.key} an array`, with_(['alpha'])]);
    if (f.type === 'string') {
      out.push([`${f.key} a number`, with_(123)], [`${f.key} a boolean`, with_(true)], [`${f.key} huge`, with_(huge)]);
    }
    if (f.type === 'number') {
      out.push([`${f.key} a string`, with_('1')], [`${f.key} fractional`, with_(1.5)], [`${f.key} negative`, with_(-1)], [`${f.key} enormous`, with_(1e15)]);
    }
    if (f.type === 'boolean') out.push([`${f.key} a string`, with_('yes')], [`${f.key} a number`, with_(1)]);
    if (f.type === 'picklist') for (const bad of ['bridge', 'NAT', '', 'nat ', 1, true]) out.push([`${f.key} ${JSON.stringify(bad)}`, with_(bad)]);
    if (f.type === 'array') {
      out.push([`${f.key} a string`, with_('8080:80')], [`${f.key} huge`, with_([huge])]);
      for (const bad of BAD_FORWARDS) out.push([`${f.key} ${JSON.stringify(bad).slice(0, 60)}`, with_(bad)]);
    }
    if (NAME_FIELDS.has(f.key)) {
      for (const bad of ['../../etc/passwd', '..', '.', '.hidden', 'a/b', '/abs', 'back\\slash', 'nul\u0000byte', 'tab\there', 'new\nline', '', '   ', 'é'.repeat(200)]) {
        out.push([`${f.key} ${JSON.stringify(bad.slice(0, 20))}`, with_(bad)]);
      }
    }
    if (NAME_FIELDS.has(f.key)) for (const bad of INVISIBLE_NAMES) out.push([`${f.key} ${JSON.stringify(bad)}`, with_(bad)]);
    if (DESCRIPTION_FIELDS.has(f.key)) for (const bad of BAD_DESCRIPTIONS) out.push([`${f.key} ${JSON.stringify(bad)}`, with_(bad)]);
    if (REF_FIELDS.has(f.key)) out.push([`${f.key} empty`, with_('')], [`${f.key} with a newline`, with_('al\npha')], [`${f.key} of 256 chars`, with_('a'.repeat(256))]);
    for (const bad of BAD_CLOUD_INIT[f.key] ?? []) out.push([`${f.key} ${JSON.stringify(bad).slice(0, 60)}`, with_(bad)]);
    if (PATH_FIELDS.has(f.key) && !GUEST_PATH_CHANNELS.has(channel)) {
      for (const bad of ['disk.qcow2', '../../etc/passwd', '~/disk.qcow2', '/tmp/a\nb']) out.push([`${f.key} ${JSON.stringify(bad)}`, with_(bad)]);
    }
    // A path inside the guest is resolved there, never on the host: any bytes but NUL, not empty.
    if (f.key === 'path' && GUEST_PATH_CHANNELS.has(channel)) for (const bad of ['', 'nul\u0000byte', 'x'.repeat(4097)]) out.push([`${f.key} ${JSON.stringify(bad.slice(0, 20))}`, with_(bad)]);
  }
  // Cloud-init settings without the user they are for: the box service refuses them.
  if ('cloudInitUser' in valid) {
    const { cloudInitUser: _user, ...rest } = valid;
    out.push(['cloud-init settings without cloudInitUser', rest]);
  }
  return out;
}

/** Every table's rows, and every file of the home with its size, times and content hash. */
function fingerprint(h: OwnedHome): string {
  const db = h.owner.core.store.db;
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>).map((t) => t.name);
  const rows = Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()]));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        const st = fs.lstatSync(full);
        const hash = st.isFile() ? crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex') : 'socket';
        files.push(`${path.relative(h.home, full)} ${st.size} ${st.mtimeMs} ${hash}`);
      }
    }
  };
  walk(h.home);
  return JSON.stringify({ rows, files }, null, 1);
}

describe('the router over every transport', () => {
  let h: OwnedHome;
  let host: WebHost;
  let control: ControlClient;
  const transports: Transport[] = [];

  beforeAll(async () => {
    h = await ownedHome({ kind: 'app' });
    await h.owner.core.snapshots.create({ box: 'alpha', name: 'first' });
    await h.owner.core.boxes.create({ name: 'blind', image: h.imageId, display: 'none' });
    const router = h.owner.router;

    transports.push({ name: 'in-process', call: (c, raw) => (isStreamChannel(c) ? router.openStream(c, raw) : router.invoke(c, raw)), framed: false, raw: true });

    // As the Electron shell binds them: desktop-only channels to main's own handlers (a dialog
    // there), stream channels to a MessagePort each (worker_threads' standing in for Electron's).
    const desktop = { 'shell:pickImageFile': async () => '/picked/disk.qcow2', 'shell:pickArchiveFile': async () => '/picked/a.boxkeep', 'shell:pickArchiveSavePath': async () => '/picked/b.boxkeep' };
    const { bridge: ipcBridge } = await electronBridge(router, desktop);
    transports.push({ name: 'electron ipc (preload + transport)', call: viaBridge(ipcBridge as never), framed: false, raw: false });

    host = await startWebHost({ router, staticDir: path.join(h.dir, 'none') });
    const origin = `http://127.0.0.1:${host.port}`;
    const Browser = class extends WebSocket { constructor(url: string) { super(url, { origin }); } } as unknown as SocketFactory;
    const wsBridge = await connectBridge({ preload: null, pageUrl: host.url, WebSocket: Browser });
    transports.push({ name: 'websocket', call: viaBridge(wsBridge as never), framed: true, raw: false });

    control = (await connectControl(h.owner.control!.endpoint))!;
    transports.push({ name: 'control socket', call: (c, raw) => (isStreamChannel(c) ? control.openStream(c, raw) : control.invoke(c, raw)), framed: true, raw: true });
  });
  afterAll(async () => {
    control?.close();
    await host?.close();
    await h?.cleanup();
  });

  it('lists what the core holds, identically over every transport', async () => {
    const answers = await Promise.all(transports.map((t) => t.call('snapshots:list', { box: 'alpha' })));
    for (const answer of answers) {
      expect(answer).toMatchObject({ boxId: h.boxId, snapshots: [{ name: 'first' }] });
      expect(answer).toEqual(answers[0]);
    }
  });

  it('carries each error code and message intact over every transport', async () => {
    for (const [channel, input, code] of [
      ['boxes:get', { box: 'ghost' }, 'NotFound'],
      ['snapshots:create', { box: 'alpha', name: 'first' }, 'AlreadyExists'],
      ['boxes:create', { name: 'x/y', image: 'seed' }, 'InvalidArgument'],
      ['no:such' as Channel, {}, 'InvalidArgument'],
      ['consoles:open', { box: 'ghost' }, 'NotFound'],
      ['consoles:open', { box: 'alpha' }, 'InvalidState'],
      ['displays:open', { box: 'ghost' }, 'NotFound'],
      ['displays:open', { box: 'alpha' }, 'InvalidState'],
      ['displays:screenshot', { box: 'ghost' }, 'NotFound'],
      ['displays:screenshot', { box: 'alpha' }, 'InvalidState'],
      ['displays:screenshot', { box: 'blind' }, 'InvalidState'],
      ['boxes:screenshot', { box: 'ghost' }, 'NotFound'],
      ['boxes:screenshot', { box: 'alpha' }, 'InvalidState'],
      ['snapshots:picture', { box: 'alpha', snapshot: 'ghost' }, 'NotFound'],
      ['snapshots:picture', { box: 'alpha', snapshot: 'first' }, 'NotFound'],
    ] as const) {
      const able = transports.filter((t) => t.raw || (CHANNELS as string[]).includes(channel));
      const errors = await Promise.all(able.map((t) => t.call(channel as Channel, input).then(() => null, (e: unknown) => e)));
      for (const [i, err] of errors.entries()) {
        expect(err, `${able[i]!.name} ${channel}`).toBeInstanceOf(BoxkeepError);
        expect(err, `${able[i]!.name} ${channel}`).toMatchObject({ code, message: (errors[0] as Error).message });
      }
    }
  });

  it('answers a desktop-only channel over Electron IPC alone; every other transport refuses it, saying so', async () => {
    expect(channels['shell:pickImageFile'].desktopOnly).toBe(true);
    for (const t of transports) {
      const outcome = await t.call('shell:pickImageFile', {}).then((value) => ({ value }), (err: unknown) => ({ err }));
      if (t.name.startsWith('electron ipc')) {
        expect(outcome, t.name).toEqual({ value: '/picked/disk.qcow2' });
        continue;
      }
      const err = (outcome as { err: unknown }).err;
      expect(err, t.name).toBeInstanceOf(BoxkeepError);
      expect(err, t.name).toMatchObject({ code: 'InvalidArgument', message: 'shell:pickImageFile is part of the Boxkeep desktop app only; a web page or the command line cannot use it.' });
    }
  });

  it('refuses bad input on every channel with InvalidArgument and changes nothing', async () => {
    const before = fingerprint(h);
    let checked = 0;
    for (const t of transports) {
      for (const channel of CHANNELS) {
        const cases = badInputs(channel, { hugeBytes: t.framed ? 200_000 : 2_000_000 });
        for (const [label, raw] of cases) {
          const outcome = await t.call(channel, raw).then((value) => ({ value }), (err: unknown) => ({ err }));
          const what = `${t.name} ${channel} with ${label}`;
          expect('err' in outcome, `${what} was accepted`).toBe(true);
          const err = (outcome as { err: unknown }).err;
          expect(err, what).toBeInstanceOf(BoxkeepError);
          expect((err as BoxkeepError).code, `${what}: ${(err as Error).message}`).toBe('InvalidArgument');
          expect((err as Error).message.length, what).toBeGreaterThan(10);
          expect((err as Error).message.length, `${what}: the message echoes the whole input`).toBeLessThan(600);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(fingerprint(h)).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses each bad cloud-init value by its own rule, naming the setting, on every transport', async () => {
    const valid = validInput('boxes:create');
    const subjects: Record<string, RegExp> = { cloudInitUser: /user name/, cloudInitPassword: /password/i, cloudInitSshKeys: /SSH key/, cloudInitHostname: /host name/ };
    for (const t of transports) {
      for (const [field, values] of Object.entries(BAD_CLOUD_INIT)) {
        for (const bad of values) {
          const err = await t.call('boxes:create', { ...valid, [field]: bad }).then(() => null, (e: unknown) => e as Error);
          expect(err?.message, `${t.name} ${field} ${JSON.stringify(bad).slice(0, 40)}`).toMatch(subjects[field]!);
          expect(err?.message).not.toMatch(/Unknown field/);
          if (field === 'cloudInitPassword') expect(err?.message).not.toContain(String(bad).slice(0, 8) || '\u0000');
        }
      }
      const { cloudInitUser: _user, ...noUser } = valid;
      await expect(t.call('boxes:create', noUser), t.name).rejects.toThrow('Cloud-init needs a user name (cloudInitUser, --user) to go with a password and SSH keys and a host name.');
    }
  });

  it('explains what is wrong: the field, the rule, and what to do', async () => {
    const call = transports[2]!.call;
    await expect(call('snapshots:create', { box: 'alpha', name: '../../etc/passwd' })).rejects.toThrow('"../../etc/passwd" starts with "."; snapshot names may not start with a dot.');
    await expect(call('snapshots:create', { box: 'alpha', name: 'etc/../passwd' })).rejects.toThrow('contains "/"; slashes are not allowed');
    await expect(call('snapshots:create', { box: 'alpha', nmae: 'typo' })).rejects.toThrow('Unknown field "nmae"');
    await expect(call('boxes:create', { name: 'b', image: 'seed', cpus: 1.5 })).rejects.toThrow('The CPU count must be a whole number');
    await expect(call('images:import', { path: 'disk.qcow2' })).rejects.toThrow('must be an absolute path');
    await expect(call('boxes:get', {})).rejects.toThrow(/box/);
  });

  it('refuses keys named like Object.prototype members and arrays, naming what is wrong', async () => {
    for (const t of transports) {
      for (const key of PROTOTYPE_KEYS) {
        const raw = { box: 'alpha', name: 'c', ...JSON.parse(`{${JSON.stringify(key)}: 1}`) };
        await expect(t.call('snapshots:create', raw), `${t.name} ${key}`).rejects.toMatchObject({
          code: 'InvalidArgument', message: `Unknown field "${key}": it is not part of snapshots:create.`,
        });
      }
      await expect(t.call('boxes:list', []), t.name).rejects.toMatchObject({
        code: 'InvalidArgument', message: 'The input of boxes:list must be an object of named fields, not an array.',
      });
    }
    const tree = (await transports[0]!.call('snapshots:list', { box: 'alpha' })) as { snapshots: Array<{ name: string }> };
    expect(tree.snapshots.map((s) => s.name)).not.toContain('c');
  });

  it('refuses invisible characters in names by code point, and reordering ones in descriptions', async () => {
    const call = transports[3]!.call;
    await expect(call('snapshots:create', { box: 'alpha', name: '\u202Eexe.txt' })).rejects.toThrow(
      'The snapshot name "\\u202Eexe.txt" contains U+202E RIGHT-TO-LEFT OVERRIDE, an invisible formatting character; remove it.',
    );
    await expect(call('boxes:rename', { box: 'alpha', name: 'a\u2028b' })).rejects.toThrow('contains U+2028 LINE SEPARATOR, an invisible line or paragraph separator');
    await expect(call('snapshots:create', { box: 'alpha', name: 'x', description: 'safe \u202Eevil' })).rejects.toThrow(
      'The description contains U+202E RIGHT-TO-LEFT OVERRIDE, an invisible formatting character; it would reorder the text around it.',
    );
    await expect(call('snapshots:create', { box: 'alpha', name: 'x', description: 'a\u2029b' })).rejects.toThrow('use a newline instead');
    // Prose keeps what prose needs: lines, tabs, and the zero-width non-joiner Persian is written with.
    const prose = 'line one\nline two\twith a tab: \u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645';
    await call('snapshots:update', { box: 'alpha', snapshot: 'first', description: prose });
    expect(await call('snapshots:get', { box: 'alpha', snapshot: 'first' })).toMatchObject({ description: prose });
  });

  it('lets no __proto__ key reach an object or the prototype', async () => {
    for (const t of transports) {
      const raw = JSON.parse('{"__proto__": {"polluted": true}, "box": "alpha", "description": "after proto"}');
      const outcome = await t.call('snapshots:update', { ...raw, snapshot: 'first' }).then((v) => v, (e: unknown) => e);
      // Refused or ignored are both safe; what must never happen is the key landing anywhere.
      if (outcome instanceof BoxkeepError) expect(outcome.code).toBe('InvalidArgument');
      else expect(Object.keys(outcome as object)).not.toContain('polluted');
      expect(({} as Record<string, unknown>).polluted, t.name).toBeUndefined();
    }
  });

  it('treats a path-like reference as a name that is not there, and changes nothing', async () => {
    const before = fingerprint(h);
    for (const t of transports) {
      for (const [channel, input] of [
        ['boxes:remove', { box: '../../..' }],
        ['snapshots:remove', { box: 'alpha', snapshot: '../../boxkeep.db' }],
        ['images:remove', { image: '/etc/passwd' }],
      ] as const) {
        await expect(t.call(channel, input), `${t.name} ${channel}`).rejects.toMatchObject({ code: 'NotFound' });
      }
    }
    expect(fingerprint(h)).toBe(before);
    // The fingerprint does see a real change: one valid call moves it.
    await transports[0]!.call('snapshots:create', { box: 'alpha', name: 'second' });
    expect(fingerprint(h)).not.toBe(before);
  });
});
