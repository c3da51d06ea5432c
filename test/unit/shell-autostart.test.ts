// Start at login: the XDG autostart entry written, checked and removed on a real folder; other
// platforms go to Electron's login-item setting (injected here, as the main process does).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { autostartEnabled, autostartFile, desktopEntry, execArg, launchCommand, setAutostart, startedHidden } from '../../electron/shell/autostart.js';

const dirs: string[] = [];
const temp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-auto-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('autostart (XDG)', () => {
  it('writes ~/.config/autostart/boxkeep.desktop that starts the app hidden, and removes it', () => {
    const home = temp();
    const deps = { platform: 'linux' as const, env: { HOME: home }, command: ['/opt/Boxkeep/boxkeep'] };
    expect(autostartEnabled(deps)).toBe(false);
    setAutostart(deps, true);
    const file = path.join(home, '.config', 'autostart', 'boxkeep.desktop');
    expect(fs.readFileSync(file, 'utf8')).toBe(
      '[Desktop Entry]\nType=Application\nName=Boxkeep\nComment=Keeps the AutoProtect schedule of your boxes from the tray\n' +
      'Exec=/opt/Boxkeep/boxkeep --hidden\nIcon=boxkeep\nTerminal=false\nX-GNOME-Autostart-enabled=true\nX-Boxkeep-Autostart=true\n',
    );
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(autostartEnabled(deps)).toBe(true);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['boxkeep.desktop']);
    setAutostart(deps, false);
    expect(fs.existsSync(file)).toBe(false);
    expect(autostartEnabled(deps)).toBe(false);
    setAutostart(deps, false);
  });

  it('honours XDG_CONFIG_HOME (absolute only, as the spec says)', () => {
    const config = temp();
    expect(autostartFile({ HOME: '/home/u', XDG_CONFIG_HOME: config })).toBe(path.join(config, 'autostart', 'boxkeep.desktop'));
    expect(autostartFile({ HOME: '/home/u', XDG_CONFIG_HOME: 'relative/dir' })).toBe('/home/u/.config/autostart/boxkeep.desktop');
    setAutostart({ platform: 'linux', env: { HOME: '/nonexistent', XDG_CONFIG_HOME: config }, command: ['/usr/bin/electron', '/src/app'] }, true);
    expect(fs.readFileSync(path.join(config, 'autostart', 'boxkeep.desktop'), 'utf8')).toContain('Exec=/usr/bin/electron /src/app --hidden\n');
  });

  it('quotes an Exec argument with spaces or reserved characters and doubles %', () => {
    expect(execArg('/home/me/My Apps/boxkeep')).toBe('"/home/me/My Apps/boxkeep"');
    expect(execArg('a"b$c`d\\e')).toBe('"a\\"b\\$c\\`d\\\\e"');
    expect(execArg('100%')).toBe('100%%');
    expect(desktopEntry(['/x y/boxkeep'])).toContain('Exec="/x y/boxkeep" --hidden\n');
  });

  it('escapes the Exec value as a desktop-file string after quoting: a backslash in an argument is four in the file', () => {
    // The spec: a string value's escapes (a backslash written as two) are undone before the quoting rule is read.
    expect(desktopEntry(['/opt/a$b/boxkeep'])).toContain('Exec="/opt/a\\\\$b/boxkeep" --hidden\n');
    expect(desktopEntry(['/opt/a\\b/boxkeep'])).toContain('Exec="/opt/a\\\\\\\\b/boxkeep" --hidden\n');
    expect(desktopEntry(['/opt/a\nb'])).toContain('Exec="/opt/a\\nb" --hidden\n');
  });

  it('leaves a boxkeep.desktop the user wrote: removing starting at login says so and deletes nothing', () => {
    const home = temp();
    const deps = { platform: 'linux' as const, env: { HOME: home }, command: ['/opt/Boxkeep/boxkeep'] };
    const file = autostartFile(deps.env);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const mine = '[Desktop Entry]\nType=Application\nName=My Boxkeep\nExec=/home/me/bin/boxkeep --my-flags\n';
    fs.writeFileSync(file, mine);
    expect(() => setAutostart(deps, false)).toThrow(/was not written by Boxkeep/);
    expect(() => setAutostart(deps, true)).toThrow(/was not written by Boxkeep/);
    expect(fs.readFileSync(file, 'utf8')).toBe(mine);
  });

  it('uses Electron\'s login item elsewhere, asking it to start hidden', () => {
    const calls: [boolean, string[]][] = [];
    let on = false;
    const loginItem = { set: (v: boolean, args: string[]) => { calls.push([v, args]); on = v; }, get: () => on };
    const home = temp();
    const deps = { platform: 'darwin' as const, env: { HOME: home }, command: ['/Applications/Boxkeep.app'], loginItem };
    setAutostart(deps, true);
    expect(autostartEnabled(deps)).toBe(true);
    setAutostart(deps, false);
    expect(calls).toEqual([[true, ['--hidden']], [false, ['--hidden']]]);
    expect(fs.existsSync(path.join(home, '.config'))).toBe(false);
  });

  it('knows an app started at login by its flag', () => {
    expect(startedHidden(['/opt/boxkeep', '--hidden'])).toBe(true);
    expect(startedHidden(['/opt/boxkeep'])).toBe(false);
  });
});

describe('the command autostart starts', () => {
  it('is the AppImage file itself when the app runs from one, not its temporary mount', () => {
    const env = { APPIMAGE: '/home/me/Apps/Boxkeep-0.1.0.AppImage', HOME: '/home/me' };
    expect(launchCommand({ isPackaged: true, execPath: '/tmp/.mount_BoxkeeAbC123/boxkeep', appRoot: '/tmp/.mount_BoxkeeAbC123/resources/app.asar', env })).toEqual(['/home/me/Apps/Boxkeep-0.1.0.AppImage']);
  });

  it('is the installed executable when packaged otherwise, and electron with the app folder in development', () => {
    expect(launchCommand({ isPackaged: true, execPath: '/opt/Boxkeep/boxkeep', appRoot: '/opt/Boxkeep/resources/app.asar', env: {} })).toEqual(['/opt/Boxkeep/boxkeep']);
    expect(launchCommand({ isPackaged: false, execPath: '/src/node_modules/electron/dist/electron', appRoot: '/src', env: { APPIMAGE: '' } })).toEqual(['/src/node_modules/electron/dist/electron', '/src']);
  });
});
