// Port forwards of a box's user-mode network: `[hostAddress:]hostPort:guestPort[/tcp|udp]`.
// One parser for every edge (the channel schema, the CLI, the renderer's form), so a spec means
// the same everywhere and every refusal is worded once.
import { showText } from './names.js';
import type { PortForward } from './types.js';

export const DEFAULT_HOST_ADDRESS = '127.0.0.1';
/** More than anyone forwards by hand; keeps a hostile input from growing QEMU's command line. */
export const MAX_FORWARDS = 64;
export const FORWARD_SYNTAX = '[address:]hostPort:guestPort[/tcp|udp], e.g. 8080:80 or 0.0.0.0:2222:22';

const SPEC = /^(?:([^:/]*):)?([^:/]*):([^:/]*)(?:\/(.*))?$/;

/** The forward a spec says, or a sentence saying what is wrong with it. */
export function parseForward(spec: string): PortForward | string {
  const shown = showText(spec.length > 60 ? spec.slice(0, 60) + '…' : spec);
  const m = SPEC.exec(spec);
  if (!m) return `The port forward ${shown} must look like ${FORWARD_SYNTAX}.`;
  const [, address, host, guest, protocol] = m;
  const hostAddress = address === undefined || address === '' ? DEFAULT_HOST_ADDRESS : address;
  if (!isIpv4(hostAddress)) return `The port forward ${shown} has the host address ${showText(hostAddress)}; give an IPv4 address such as 127.0.0.1 (or leave it out).`;
  const hostPort = port(host!);
  if (hostPort === null) return `The port forward ${shown} has the host port ${showText(host!)}; a port is a whole number from 1 to 65535.`;
  const guestPort = port(guest!);
  if (guestPort === null) return `The port forward ${shown} has the guest port ${showText(guest!)}; a port is a whole number from 1 to 65535.`;
  const proto = protocol === undefined ? 'tcp' : protocol.toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') return `The port forward ${shown} has the protocol ${showText(protocol!)}; use /tcp or /udp (tcp when left out).`;
  return { hostAddress, hostPort, guestPort, protocol: proto };
}

/** The canonical spec of a forward: what `box show` prints and the store keeps. */
export function formatForward(f: PortForward): string {
  return `${f.hostAddress}:${f.hostPort}:${f.guestPort}/${f.protocol}`;
}

/** Two forwards that want the same host socket: same protocol and port, and one address covers the other. */
export function sameHostSocket(a: PortForward, b: PortForward): boolean {
  const any = (x: string) => x === '0.0.0.0';
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostAddress === b.hostAddress || any(a.hostAddress) || any(b.hostAddress));
}

/** Every problem of a list of specs: each bad spec, then each host socket taken twice. */
export function forwardsProblems(specs: readonly string[]): string[] {
  if (specs.length > MAX_FORWARDS) return [`A box may have at most ${MAX_FORWARDS} port forwards; ${specs.length} were given.`];
  const problems: string[] = [];
  const parsed: PortForward[] = [];
  for (const spec of specs) {
    const f = parseForward(spec);
    if (typeof f === 'string') problems.push(f);
    else {
      const twin = parsed.find((p) => sameHostSocket(p, f));
      if (twin) problems.push(`The port forward ${showText(spec)} uses the host port ${f.hostPort}/${f.protocol} that ${showText(formatForward(twin))} already forwards; each host port can go to one guest port.`);
      parsed.push(f);
    }
  }
  return problems;
}

/** The forwards of specs already checked by forwardsProblems (the channel schema did). */
export function parseForwards(specs: readonly string[]): PortForward[] {
  return specs.map((s) => {
    const f = parseForward(s);
    if (typeof f === 'string') throw new Error(f);
    return f;
  });
}

/** The forward to the guest's ssh port, if any: what the UI turns into an ssh command. */
export function sshForward(forwards: readonly PortForward[]): PortForward | null {
  return forwards.find((f) => f.guestPort === 22 && f.protocol === 'tcp') ?? null;
}

/** `ssh -p 2222 root@127.0.0.1`: a forward bound to every address is reached on loopback. */
export function sshCommand(f: PortForward, user = 'root'): string {
  const address = f.hostAddress === '0.0.0.0' ? '127.0.0.1' : f.hostAddress;
  return `ssh -p ${f.hostPort} ${user}@${address}`;
}

function port(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}
