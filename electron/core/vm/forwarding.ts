// The host side of port forwards: refused before QEMU starts when another running box has the
// same host socket, and QEMU's own failure to bind one turned into words that name the port.
import { BoxkeepError, invalidState } from '../../../shared/errors.js';
import { formatForward, sameHostSocket } from '../../../shared/forwards.js';
import os from 'node:os';
import { isBusy, type Box } from '../../../shared/types.js';

const activeForwards = (box: Box) => (box.network === 'nat' ? box.forwards : []);

/** Two running boxes cannot listen on one host port: say which box has it. */
export function assertForwardsFree(box: Box, all: Box[]): void {
  for (const other of all) {
    if (other.id === box.id || !isBusy(other.status)) continue;
    for (const mine of activeForwards(box)) {
      const theirs = activeForwards(other).find((f) => sameHostSocket(f, mine));
      if (theirs) {
        throw invalidState(`The box ${JSON.stringify(box.name)} forwards the host port ${mine.hostPort}/${mine.protocol} (${formatForward(mine)}), which the running box ${JSON.stringify(other.name)} already forwards (${formatForward(theirs)}); stop that box or change the forward with "boxkeep box set ${box.name} --forward …".`);
      }
    }
  }
}

/** QEMU 7.2 says `Could not set up host forwarding rule 'tcp:127.0.0.1:8080-:80'` when it cannot bind. */
const RULE = /Could not set up host forwarding rule '(tcp|udp):([^:']*):(\d+)-/;

/** The error for a start that failed to bind a forward (port held, or an address not ours); null for any other failure. */
export function portTaken(box: Box, qemuSaid: string): BoxkeepError | null {
  const m = RULE.exec(qemuSaid);
  if (!m) return null;
  const [, protocol, address, port] = m;
  // QEMU gives no errno: a bind fails the same way on a host address no interface has.
  if (address && !isLocalAddress(address)) {
    const forward = box.forwards.find((f) => f.hostAddress === address && String(f.hostPort) === port);
    return invalidState(`The box ${JSON.stringify(box.name)} did not start: the host address ${address} of its forward ${forward ? formatForward(forward) : `${address}:${port}`} is not an address of this computer, so nothing can listen there. Use 127.0.0.1, 0.0.0.0 or one of this computer's addresses: "boxkeep box set ${box.name} --forward …".`);
  }
  return invalidState(`The box ${JSON.stringify(box.name)} did not start: the host port ${port}/${protocol} on ${address || '0.0.0.0'} is already in use by another program, so its port forward cannot listen there. Free that port, or change the forward with "boxkeep box set ${box.name} --forward …".`);
}

/** 0.0.0.0, all of 127/8 (Linux answers on every loopback address), or an interface's IPv4 address. */
function isLocalAddress(address: string): boolean {
  if (address === '0.0.0.0' || address.startsWith('127.')) return true;
  return Object.values(os.networkInterfaces()).flat().some((a) => a?.family === 'IPv4' && a.address === address);
}
