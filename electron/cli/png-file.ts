// Saving a picture the engine handed over (base64 PNG) where the user asked: written beside
// the target and renamed over it, so an interrupted command leaves the old file or the new
// one, never half a picture. The target's folder may be one others write to (/tmp): the
// partial file has a name nobody can guess and is made new ('wx'), so a link planted there
// is never written through.
import fs from 'node:fs';
import path from 'node:path';
import { BoxkeepError } from '../../shared/errors.js';
import { crypto } from '../core/builtins.js';
import type { ScreenPicture } from '../../shared/types.js';

/** Writes the PNG to `file` (absolute); returns its size in bytes. */
export function savePng(file: string, picture: ScreenPicture): number {
  const bytes = Buffer.from(picture.png, 'base64');
  const dir = path.dirname(file);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new BoxkeepError('InvalidArgument', `The folder ${dir} does not exist; give --output a file in an existing folder.`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new BoxkeepError('InvalidArgument', `${file} is a folder; give --output a file name such as ${path.join(file, 'screen.png')}.`);
  const partial = path.join(dir, `.${path.basename(file)}.${crypto().randomBytes(6).toString('hex')}.partial`);
  try {
    fs.writeFileSync(partial, bytes, { mode: 0o644, flag: 'wx' });
    fs.renameSync(partial, file);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw new BoxkeepError('Storage', `Could not write ${file}: ${(err as Error).message}`);
  }
  return bytes.length;
}
