// From the boxes:create input (already checked field by field by the channel schema) to what
// the box keeps and its seed is made from. The clear password lives only in this call's
// memory: it is hashed here and dropped.
import type { AddressInfo } from 'node:net';
import { net } from '../builtins.js';
import { invalidArgument } from '../../../shared/errors.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { hostnameFromName } from '../../../shared/cloud-init.js';
import { DEFAULT_HOST_ADDRESS, MAX_FORWARDS, sameHostSocket, sshForward } from '../../../shared/forwards.js';
import type { Box, PortForward } from '../../../shared/types.js';
import type { CloudInitRecord } from '../store/store.js';
import { hashPassword } from './password.js';

type CreateInput = ChannelInput<'boxes:create'>;

/** The settings to keep, or null when the box gets no seed. */
export async function cloudInitRecord(input: CreateInput): Promise<CloudInitRecord | null> {
  const { cloudInitUser: user, cloudInitPassword: password, cloudInitSshKeys: sshKeys, cloudInitHostname: hostname } = input;
  if (user === undefined) {
    const stray = [password !== undefined && 'a password', sshKeys !== undefined && 'SSH keys', hostname !== undefined && 'a host name'].filter(Boolean);
    if (stray.length > 0) throw invalidArgument(`Cloud-init needs a user name (cloudInitUser, --user) to go with ${stray.join(' and ')}.`);
    return null;
  }
  // `users:` replaces the image's default user, and this one's password is locked without one.
  if (password === undefined && (sshKeys ?? []).length === 0) {
    throw invalidArgument(`The user ${JSON.stringify(user)} would have no way to log in: give an SSH key (cloudInitSshKeys, --ssh-key) or a password (cloudInitPassword, --password-file).`);
  }
  return {
    user,
    sshKeys: (sshKeys ?? []).map((k) => k.trim()),
    hostname: hostname ?? hostnameFromName(input.name) ?? 'boxkeep',
    passwordHash: password === undefined ? null : await hashPassword(password),
  };
}

/**
 * A NAT box with cloud-init gets a forward to the guest's ssh port, unless one was given: on a
 * 127.0.0.1 port free now and forwarded by no other box (a box that is stopped still owns its
 * port, so two boxes never come to want the same one).
 */
export async function withSshForward(forwards: PortForward[], others: Box[]): Promise<PortForward[]> {
  if (sshForward(forwards)) return forwards;
  // The forward is one of the box's: it may have no more than any box (its row is read back checked).
  if (forwards.length >= MAX_FORWARDS) throw invalidArgument(`A box may have at most ${MAX_FORWARDS} port forwards, and a box with cloud-init gets one more, to the guest's ssh port: give at most ${MAX_FORWARDS - 1}, or include one to guest port 22 (such as 2222:22).`);
  const taken = [...forwards, ...others.flatMap((b) => b.forwards)];
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeLoopbackPort();
    const forward: PortForward = { hostAddress: DEFAULT_HOST_ADDRESS, hostPort: port, guestPort: 22, protocol: 'tcp' };
    if (!taken.some((f) => sameHostSocket(f, forward))) return [...forwards, forward];
  }
  throw invalidArgument('No free host port was found for the ssh forward; give one with --forward 2222:22.');
}

/** A port the kernel hands out for 127.0.0.1 now (its ephemeral range: not a well-known service's). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net().createServer();
    server.once('error', reject);
    server.listen(0, DEFAULT_HOST_ADDRESS, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
