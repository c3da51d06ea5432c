// Start at login. On Linux an XDG autostart entry (~/.config/autostart/boxkeep.desktop, under
// $XDG_CONFIG_HOME when set), written and removed here so its content is tested under Node;
// elsewhere Electron's login-item setting, injected. The app started this way opens no window:
// it comes up in the tray (--hidden), where it runs the AutoProtect schedule.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { invalidState } from '../../shared/errors.js';

export const HIDDEN_FLAG = '--hidden';
/** Marks the entry Boxkeep wrote: a boxkeep.desktop of the user's own is never replaced or removed. */
const OURS = 'X-Boxkeep-Autostart=true';

export interface AutostartDeps {
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
  /** The command that starts the app: the executable and its arguments (the app path in development). */
  command: string[];
  /** Electron's app.setLoginItemSettings / getLoginItemSettings, for macOS and Windows. */
  loginItem?: { set(openAtLogin: boolean, args: string[]): void; get(): boolean };
}

/**
 * How the app is started again at login. An AppImage runs from a temporary mount that is gone
 * once it exits: the entry names the AppImage file itself ($APPIMAGE, set by its runtime).
 */
export function launchCommand(app: { isPackaged: boolean; execPath: string; appRoot: string; env: Record<string, string | undefined> }): string[] {
  if (!app.isPackaged) return [app.execPath, app.appRoot];
  return [app.env.APPIMAGE && path.isAbsolute(app.env.APPIMAGE) ? app.env.APPIMAGE : app.execPath];
}

export function autostartFile(env: Record<string, string | undefined>): string {
  const config = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME ?? os.homedir(), '.config');
  return path.join(config, 'autostart', 'boxkeep.desktop');
}

/**
 * One argument of an Exec key, as the Desktop Entry spec wants it: quoted when it holds a
 * reserved character, with ", `, $ and \ escaped inside the quotes, and % doubled (field codes).
 */
export function execArg(arg: string): string {
  const escaped = arg.replace(/%/g, '%%');
  if (!/[\s"'\\><~|&;$*?#()`]/.test(escaped) && escaped !== '') return escaped;
  return `"${escaped.replace(/(["`$\\])/g, '\\$1')}"`;
}

/** A desktop-file string value: its escapes are undone before the Exec quoting is read (spec, "Exec key"). */
const stringValue = (text: string) => text.replace(/[\\\n\t\r]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r' })[c]!);

export function desktopEntry(command: string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Boxkeep',
    'Comment=Keeps the AutoProtect schedule of your boxes from the tray',
    `Exec=${stringValue([...command, HIDDEN_FLAG].map(execArg).join(' '))}`,
    'Icon=boxkeep',
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    OURS,
    '',
  ].join('\n');
}

export function autostartEnabled(deps: AutostartDeps): boolean {
  if (deps.platform !== 'linux') return deps.loginItem?.get() ?? false;
  return fs.existsSync(autostartFile(deps.env));
}

/** Written whole to a temporary file, then renamed: a crash leaves the old entry or the new one. */
export function setAutostart(deps: AutostartDeps, enabled: boolean): void {
  if (deps.platform !== 'linux') return deps.loginItem?.set(enabled, [HIDDEN_FLAG]);
  const file = autostartFile(deps.env);
  if (fs.existsSync(file) && !fs.readFileSync(file, 'utf8').split('\n').includes(OURS)) {
    throw invalidState(`${file} was not written by Boxkeep; it is left as it is. Edit or remove it yourself to change starting at login.`);
  }
  if (!enabled) return fs.rmSync(file, { force: true });
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, desktopEntry(deps.command), { mode: 0o644 });
  fs.renameSync(temp, file);
}

/** Started at login: come up in the tray without a window. */
export const startedHidden = (argv: readonly string[]) => argv.includes(HIDDEN_FLAG);
