// The NoCloud seed: an ISO 9660 volume labelled `cidata` holding `user-data` (#cloud-config)
// and `meta-data`, which cloud-init in a cloud image finds by its label on first boot.
//
// Written by Debian's genisoimage rather than an ISO writer of our own: a seed wants Rock Ridge
// (lower-case names with a dash, "user-data", which plain ISO 9660 cannot spell) and Joliet
// (cloudbase-init on Windows reads that), and genisoimage is the tool cloud-init's own docs and
// cloud-localds use, already a listed package for the installer tests. One run takes tens of
// milliseconds (bench/seed.mjs), once per box.
import fs from 'node:fs';
import path from 'node:path';
import type { CloudInitRecord } from '../store/store.js';
import { fsyncDir, fsyncPath, removeDurable, renameDurable } from '../fsutil.js';
import { runTool } from './tool.js';

export const SEED_LABEL = 'cidata';

/**
 * A YAML double-quoted string: every value goes in quoted, so none reads as YAML syntax. JSON's
 * escapes are YAML's too; what JSON leaves raw outside printable ASCII is escaped as well, since
 * YAML reads U+0085/U+2028/U+2029 as line breaks and PyYAML (cloud-init's parser) refuses a
 * document holding U+FFFE/U+FFFF. Above U+FFFF: \U and eight digits, as YAML does not pair
 * JSON's surrogate escapes into one character.
 */
const q = (text: string) =>
  JSON.stringify(text).replace(/[^\x20-\x7e]/gu, (c) => {
    const cp = c.codePointAt(0)!;
    return cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });

/**
 * The user with passwordless sudo, its keys and (when given) its password hash. `users:`
 * without "default" means the image's own default user is not made. With a password and no
 * key, ssh takes the password (cloud images turn password logins off), else the user could
 * not log in over ssh at all.
 */
export function userData(ci: CloudInitRecord): string {
  const lines = ['#cloud-config', `hostname: ${q(ci.hostname)}`, 'users:', `  - name: ${q(ci.user)}`, '    sudo: "ALL=(ALL) NOPASSWD:ALL"', '    shell: /bin/bash'];
  if (ci.passwordHash) lines.push('    lock_passwd: false', `    hashed_passwd: ${q(ci.passwordHash)}`);
  else lines.push('    lock_passwd: true');
  if (ci.sshKeys.length > 0) lines.push('    ssh_authorized_keys:', ...ci.sshKeys.map((k) => `      - ${q(k.trim())}`));
  if (ci.passwordHash && ci.sshKeys.length === 0) lines.push('ssh_pwauth: true');
  return lines.join('\n') + '\n';
}

/** instance-id is the box id: a new box is a new instance, so cloud-init runs once per box. */
export function metaData(boxId: string, ci: CloudInitRecord): string {
  return `instance-id: ${q(boxId)}\nlocal-hostname: ${q(ci.hostname)}\n`;
}

/**
 * Writes the seed at `target` in one rename: its files are staged in a dot-folder next to it
 * and the ISO is made under a temporary name, so `target` is either absent or whole. The
 * staging folder goes afterwards (a crash leaves it inside the box folder, which an
 * interrupted box create removes whole; a later write clears it first).
 *
 * Nothing planted at those names is followed: a symlink is removed (never its target), the
 * folder and files are made exclusively (O_EXCL), and genisoimage writes the ISO to its stdout
 * rather than opening a path of its own, which it would follow.
 */
export async function writeSeed(target: string, boxId: string, ci: CloudInitRecord): Promise<void> {
  const dir = path.dirname(target);
  const stage = path.join(dir, '.seed');
  const tmp = path.join(dir, '.seed.iso.tmp');
  clear(stage);
  clear(tmp);
  fs.mkdirSync(stage, { mode: 0o700 });
  fsyncDir(dir);
  try {
    fs.writeFileSync(path.join(stage, 'user-data'), userData(ci), { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(path.join(stage, 'meta-data'), metaData(boxId, ci), { mode: 0o600, flag: 'wx' });
    const iso = await runTool('genisoimage', ['-quiet', '-volid', SEED_LABEL, '-joliet', '-rock', path.join(stage, 'user-data'), path.join(stage, 'meta-data')]);
    fs.writeFileSync(tmp, iso, { mode: 0o600, flag: 'wx' });
    fsyncPath(tmp);
    renameDurable(tmp, target);
  } finally {
    fs.rmSync(tmp, { force: true });
    removeDurable(stage);
  }
}

/** Removes what is at `file`, a symlink as a link (removeDurable's existsSync would follow it and miss a dangling one). */
function clear(file: string): void {
  fs.rmSync(file, { recursive: true, force: true });
}
