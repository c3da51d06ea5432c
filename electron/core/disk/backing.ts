import path from 'node:path';
import { readQcow2Header } from './qcow2.js';

/** The absolute path a qcow2 file backs onto (relative names resolve against its folder), or null. */
export async function backingPathOf(file: string): Promise<string | null> {
  const header = await readQcow2Header(file);
  if (!header.backingFile) return null;
  return path.resolve(path.dirname(file), header.backingFile);
}
