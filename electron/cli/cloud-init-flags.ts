// box create's cloud-init flags: --cloud-init --user NAME [--password-file FILE]
// [--ssh-key KEY]... [--ssh-key-file FILE]... [--hostname NAME], as boxes:create fields.
// The password comes from a file, never the command line (which every user sees in /proc);
// only its first line is read, and it goes to the engine, which hashes it at once.
import fs from 'node:fs';
import { MAX_PASSWORD_FILE_BYTES, sshKeysFromText } from '../../shared/cloud-init.js';
import { invalidArgument } from '../../shared/errors.js';
import type { ParsedArgs } from './args.js';
import { on, opt } from './command.js';

const FLAGS = ['user', 'password-file', 'ssh-key', 'ssh-key-file', 'hostname'] as const;
/** A public key file is a few lines; a file this big is something else. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

export const CLOUD_INIT_USAGE = '[--cloud-init] [--user NAME] [--password-file FILE] [--ssh-key KEY]... [--ssh-key-file FILE]... [--hostname NAME]';
export const CLOUD_INIT_KINDS = { 'password-file': 'path', 'ssh-key-file': 'path' } as const;
export const CLOUD_INIT_HELP =
  '--cloud-init gives the box a NoCloud seed (for cloud images): --user NAME is made with sudo, logging in\n' +
  'with --ssh-key KEY / --ssh-key-file FILE (repeat them for more keys) and, with --password-file FILE (its\n' +
  'first line), a password kept only as a SHA-512 hash; it needs a key or a password (or both).\n' +
  '--hostname names the guest (else the box name).\n' +
  'A NAT box gets a forward from a free 127.0.0.1 port to guest port 22; "box show" prints the ssh line.';

/** The rule that spans flags: the others only with --cloud-init, and --cloud-init needs --user. */
export function cloudInitProblem(args: ParsedArgs): string | null {
  const stray = FLAGS.filter((f) => args.flags[f] !== undefined).map((f) => `--${f}`);
  if (!on(args, 'cloud-init')) return stray.length ? `${stray.join(', ')} ${stray.length === 1 ? 'goes' : 'go'} with --cloud-init.` : null;
  if (args.flags.user === undefined) return '--cloud-init needs --user NAME: the user to log in as.';
  return null;
}

export function cloudInitFields(args: ParsedArgs) {
  if (!on(args, 'cloud-init')) return {};
  const keyFiles = (args.flags['ssh-key-file'] as string[] | undefined) ?? [];
  const keys = [...((args.flags['ssh-key'] as string[] | undefined) ?? []), ...keyFiles.flatMap(keysFrom)];
  const passwordFile = opt(args, 'password-file');
  return {
    cloudInitUser: opt(args, 'user'),
    cloudInitPassword: passwordFile === undefined ? undefined : passwordFrom(passwordFile),
    cloudInitSshKeys: keys.length ? keys : undefined,
    cloudInitHostname: opt(args, 'hostname'),
  };
}

function passwordFrom(file: string): string {
  const text = readSmall(file, '--password-file', MAX_PASSWORD_FILE_BYTES);
  const first = text.split('\n')[0]!.replace(/\r$/, '');
  if (first === '') throw invalidArgument(`--password-file ${file} ${text === '' ? 'is empty' : 'has an empty first line'}; write the password on its first line.`);
  return first;
}

function keysFrom(file: string): string[] {
  const keys = sshKeysFromText(readSmall(file, '--ssh-key-file', MAX_KEY_FILE_BYTES));
  if (keys.length === 0) throw invalidArgument(`--ssh-key-file ${file} holds no key; give a public key file such as ~/.ssh/id_ed25519.pub.`);
  return keys;
}

function readSmall(file: string, flag: string, max: number): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw invalidArgument(`${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code}).`);
  }
  if (!st.isFile()) throw invalidArgument(`${flag} ${file} is not a file.`);
  if (st.size > max) throw invalidArgument(`${flag} ${file} is ${st.size} bytes long; at most ${max} bytes are read (is it the right file?).`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidArgument(`${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code}).`);
  }
}
