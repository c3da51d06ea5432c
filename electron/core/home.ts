import os from 'node:os';
import path from 'node:path';

/** The home shared by the app and the CLI: BOXKEEP_HOME, else the XDG data folder. */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOXKEEP_HOME) return path.resolve(env.BOXKEEP_HOME);
  const data = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'boxkeep');
}
