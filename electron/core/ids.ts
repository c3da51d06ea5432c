import { crypto } from './builtins.js';

/** Ids name folders, so they are short lowercase hex: safe in paths and in 108-byte socket paths. */
export function newId(): string {
  return crypto().randomBytes(6).toString('hex');
}

export const ID_PATTERN = /^[0-9a-f]{12}$/;
export const isId = (value: string) => ID_PATTERN.test(value);
