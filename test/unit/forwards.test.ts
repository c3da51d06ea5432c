// The one port-forward parser every edge uses (channel schema, CLI, the renderer's form).
import { describe, expect, it } from 'vitest';
import { formatForward, forwardsProblems, parseForward, sameHostSocket, sshCommand, sshForward } from '../../shared/forwards.js';
import { networkArgs } from '../../electron/core/vm/qemu.js';

describe('port forward specs', () => {
  it('reads port pairs with the loopback host address and tcp unless given', () => {
    expect(parseForward('8080:80')).toEqual({ hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80, protocol: 'tcp' });
    expect(parseForward('0.0.0.0:2222:22/tcp')).toEqual({ hostAddress: '0.0.0.0', hostPort: 2222, guestPort: 22, protocol: 'tcp' });
    expect(parseForward('10.1.2.3:5353:53/udp')).toEqual({ hostAddress: '10.1.2.3', hostPort: 5353, guestPort: 53, protocol: 'udp' });
    expect(formatForward(parseForward('8080:80') as never)).toBe('127.0.0.1:8080:80/tcp');
  });

  it('names what is wrong: the shape, the port range, the address, the protocol', () => {
    expect(parseForward('80')).toMatch(/must look like \[address:\]hostPort:guestPort/);
    expect(parseForward('0:80')).toMatch(/host port "0"; a port is a whole number from 1 to 65535/);
    expect(parseForward('8080:65536')).toMatch(/guest port "65536"/);
    expect(parseForward('localhost:8080:80')).toMatch(/host address "localhost"; give an IPv4 address/);
    expect(parseForward('1.2.3.256:8080:80')).toMatch(/host address "1.2.3.256"/);
    expect(parseForward('8080:80/sctp')).toMatch(/protocol "sctp"; use \/tcp or \/udp/);
    expect(parseForward('8080:80\n')).toMatch(/guest port/);
    expect(parseForward('8080:80,hostfwd=tcp::1-:2')).toMatch(/must look like/);
    expect(parseForward('8080:80,x')).toMatch(/guest port "80,x"/);
  });

  it('refuses one host port twice in a box, also when 0.0.0.0 covers the other address', () => {
    expect(forwardsProblems(['8080:80', '8081:80', '8080:80/udp'])).toEqual([]);
    expect(forwardsProblems(['8080:80', '8080:22'])).toEqual([expect.stringMatching(/uses the host port 8080\/tcp that "127.0.0.1:8080:80\/tcp" already forwards/)]);
    expect(forwardsProblems(['0.0.0.0:8080:80', '127.0.0.1:8080:22'])).toHaveLength(1);
    expect(sameHostSocket(parseForward('10.0.0.1:80:80') as never, parseForward('10.0.0.2:80:80') as never)).toBe(false);
  });

  it('turns a forward to guest port 22 into an ssh command on loopback', () => {
    const f = [parseForward('8080:80'), parseForward('0.0.0.0:2222:22')] as never[];
    expect(sshCommand(sshForward(f)!)).toBe('ssh -p 2222 root@127.0.0.1');
    expect(sshForward([parseForward('2222:22/udp')] as never[])).toBeNull();
  });
});

describe('the network on the QEMU command line', () => {
  it('nat: a user netdev with each forward, on a virtio-net card with the box MAC', () => {
    const args = networkArgs({ mac: '52:54:00:aa:bb:cc', forwards: [parseForward('8080:80'), parseForward('0.0.0.0:5353:53/udp')] as never[] });
    expect(args).toEqual([
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53',
      '-device', 'virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc',
    ]);
  });

  it('none: no card at all, said outright', () => {
    expect(networkArgs(null)).toEqual(['-nic', 'none']);
  });
});
