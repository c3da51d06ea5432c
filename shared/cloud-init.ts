// Rules for a box's cloud-init settings (the NoCloud seed, electron/core/cloudinit): the user
// name, the host name, SSH public keys and the password. One source of truth for the channel
// schema, the CLI and the New box dialog. Each returns null when the value is fine, else a
// sentence that starts with what it is about; none ever repeats a password.
import { showText } from './names.js';

export const MAX_SSH_KEYS = 32;
/** An RSA key of 16384 bits is ~2.8 KB in base64; anything far longer is not a key. */
export const MAX_SSH_KEY_CHARS = 16 * 1024;
/**
 * What `openssl passwd -6` hashes: it cuts a longer line at 256 bytes without an error, so the
 * hash would be of another password than the one the user then types at the login prompt.
 */
export const MAX_PASSWORD_BYTES = 256;
/** A character is at least one byte in UTF-8: the channel's length cap before the byte count. */
export const MAX_PASSWORD_CHARS = MAX_PASSWORD_BYTES;
/** A password file is one short line; a big file is the wrong file (a key, an image). */
export const MAX_PASSWORD_FILE_BYTES = 64 * 1024;

/** The key types OpenSSH's authorized_keys takes (no DSA: OpenSSH dropped it). */
export const SSH_KEY_TYPES = [
  'ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

/**
 * Names useradd takes on Debian and Ubuntu without --badname (NAME_REGEX of adduser.conf):
 * a lower-case letter or "_" first, then lower-case letters, digits, "_" or "-", at most 32.
 * System accounts that already exist are refused: cloud-init would change them instead.
 */
const USER_NAME = /^[a-z_][a-z0-9_-]*$/;
const MAX_USER_NAME = 32;
const TAKEN_USERS = new Set(['root', 'daemon', 'bin', 'sys', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy', 'www-data', 'backup', 'list', 'irc', 'nobody', 'systemd-network', 'sshd', '_apt', 'messagebus']);

export function userNameProblem(name: string): string | null {
  const shown = showText(name);
  if (name.length === 0) return 'The user name must not be empty: give the name to log in with, such as "ada".';
  if (name.length > MAX_USER_NAME) return `The user name ${shown} is ${name.length} characters long; Linux allows at most ${MAX_USER_NAME}.`;
  if (!USER_NAME.test(name)) {
    return `The user name ${shown} is not a Linux user name: it must start with a lower-case letter or "_" and hold only lower-case letters, digits, "_" and "-".`;
  }
  if (TAKEN_USERS.has(name)) return `The user name ${shown} is a system account the image already has; choose a name of your own.`;
  return null;
}

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 1–63 each, 253 in all. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

export function hostnameProblem(name: string): string | null {
  const shown = showText(name);
  if (name.length === 0) return 'The host name must not be empty; leave it out to use the box name.';
  if (name.length > 253) return `The host name ${shown} is ${name.length} characters long; at most 253 are allowed.`;
  for (const label of name.split('.')) {
    if (label.length === 0) return `The host name ${shown} has an empty part between dots.`;
    if (label.length > 63) return `The host name ${shown} has a part of ${label.length} characters; each part between dots may have at most 63.`;
    if (!LABEL.test(label)) {
      return `The host name ${shown} is not a host name: each part between dots holds only letters, digits and "-", and does not start or end with "-".`;
    }
  }
  if (/^\d+$/.test(name.split('.').pop()!)) return `The host name ${shown} ends in a part of digits only, which reads as an IP address.`;
  return null;
}

/**
 * An authorized_keys line: `TYPE BASE64 [COMMENT]`. The base64 body is a key blob whose first
 * field (a length-prefixed string) names the type again: a private key, a fingerprint or the
 * wrong half of a line pasted into the field fails here, not at the first ssh login.
 */
export function sshKeyProblem(key: string): string | null {
  const shown = showText(key.length > 40 ? key.slice(0, 40) + '…' : key);
  if (key.length > MAX_SSH_KEY_CHARS) return `The SSH key ${shown} is ${key.length} characters long; a public key has at most ${MAX_SSH_KEY_CHARS}.`;
  const text = key.trim();
  if (text.length === 0) return 'The SSH key is empty; paste a public key such as "ssh-ed25519 AAAA… you@host".';
  if (text.includes('PRIVATE KEY')) return 'The SSH key is a private key; give the public key (the .pub file) instead, and keep the private key to yourself.';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(text)) return `The SSH key ${shown} contains a line break or control character; give one key per line.`;
  const [type, body, ...rest] = text.split(/[ \t]+/);
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type!)) {
    return `The SSH key ${shown} is not an SSH public key: it must start with its type (${SSH_KEY_TYPES.slice(0, 5).join(', ')} or sk-…).`;
  }
  if (body === undefined) return `The SSH key ${shown} has a type but no key after it.`;
  const blob = decodeBase64(body);
  if (blob === null) return `The SSH key ${shown} is not an SSH public key: the part after ${type} is not base64.`;
  if (blobType(blob) !== type) return `The SSH key ${shown} is not a valid ${type} key: its body does not say ${type} (damaged or cut short when copied?).`;
  const comment = rest.join(' ');
  // Surrogates left alone and noncharacters are no text: the guest could not write them into authorized_keys.
  if (/[\p{Cf}\p{Zl}\p{Zp}\u0080-\u009f\p{Cs}\p{Noncharacter_Code_Point}]/u.test(comment)) return `The SSH key ${shown} has an invisible character in its comment; remove it.`;
  return null;
}

/** Only what a password can carry into a seed and a login prompt; the password itself is never repeated. */
export function passwordProblem(password: string): string | null {
  if (password.length === 0) return 'The password is empty; give one, or leave it out to log in with SSH keys only.';
  const bytes = new TextEncoder().encode(password).length;
  if (bytes > MAX_PASSWORD_BYTES) return `The password is ${bytes} bytes long in UTF-8; at most ${MAX_PASSWORD_BYTES} are allowed.`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'The password contains a control character (a tab, a line break…); a login prompt could not take it.';
  return null;
}

/** Keys from pasted text or an authorized_keys-style file: one a line, blank lines and # comments skipped. */
export function sshKeysFromText(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** A host name made from a box name when none is given: lower-case, other characters as "-"; null when nothing is left. */
export function hostnameFromName(name: string): string | null {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return label && hostnameProblem(label) === null ? label : null;
}

function decodeBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The first field of an SSH key blob (RFC 4253 6.6): a uint32 big-endian length, then that many bytes. */
function blobType(blob: Uint8Array): string | null {
  if (blob.length < 4) return null;
  const length = ((blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!) >>> 0;
  if (length === 0 || length > 64 || 4 + length > blob.length) return null;
  return String.fromCharCode(...blob.subarray(4, 4 + length));
}
