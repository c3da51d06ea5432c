import { crypto } from './builtins.js';

/** Ids name folders, so they are short lowercase hex: safe in paths and in 108-byte socket paths. */
export function newId(): string {
  return crypto().randomBytes(6).toString('hex');
}

export { ID_PATTERN, isId } from '../../shared/names.js';

/**
 * A MAC for a box's network card: QEMU's 52:54:00 prefix (locally administered, unicast), three
 * random bytes. Made once at create and stored, so the guest sees the same card every boot.
 */
export function newMacAddress(): string {
  return ['52', '54', '00', ...[...crypto().randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
