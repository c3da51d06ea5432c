// The password, hashed as soon as the engine receives it: SHA-512 crypt (`$6$salt$…`, what
// Debian's and Ubuntu's /etc/shadow use and cloud-init's hashed_passwd passes through).
//
// Made by `openssl passwd -6 -stdin` rather than an implementation of our own: OpenSSL's is
// the one distributions check their shadow files against, openssl is on every Debian base
// system, and a crypt of our own would be ~150 lines of crypto code whose only test is
// agreeing with this one. The password goes to it on stdin, never on its command line
// (which /proc shows to every user), and only the hash comes back; openssl draws the salt.
import { passwordProblem } from '../../../shared/cloud-init.js';
import { BoxkeepError, invalidArgument } from '../../../shared/errors.js';
import { runTool } from './tool.js';

const SHA512_CRYPT = /^\$6\$[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/;

/** The SHA-512 crypt hash of a password passwordProblem() accepted (one line, no control characters). */
export async function hashPassword(password: string): Promise<string> {
  // Again here: a line break would end the line openssl reads, a long one it would cut.
  const problem = passwordProblem(password);
  if (problem) throw invalidArgument(problem);
  const hash = (await runTool('openssl', ['passwd', '-6', '-stdin'], password + '\n')).toString('utf8').trim();
  if (!SHA512_CRYPT.test(hash)) throw new BoxkeepError('Internal', 'openssl passwd -6 did not answer with a SHA-512 crypt hash; is it OpenSSL 1.1.1 or newer?');
  return hash;
}
