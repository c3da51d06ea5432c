// The cloud-init rules (shared/cloud-init.ts) the channel schema, the CLI and the New box dialog
// all apply: each refusal says what is wrong, and a password is never repeated in one.
import { describe, expect, it } from 'vitest';
import {
  hostnameFromName, hostnameProblem, passwordProblem, sshKeyProblem, sshKeysFromText, SSH_KEY_TYPES, userNameProblem,
} from '../../shared/cloud-init.js';
import { parseInput } from '../../shared/validate.js';
import { publicKey } from '../helpers/ssh-keys.js';

describe('user names', () => {
  it('takes Linux user names', () => {
    for (const ok of ['ada', '_svc', 'a', 'dev-user', 'user_2', 'x'.repeat(32)]) expect(userNameProblem(ok), ok).toBeNull();
  });

  it('refuses what useradd refuses, and system accounts, saying why', () => {
    expect(userNameProblem('')).toMatch(/must not be empty/);
    expect(userNameProblem('x'.repeat(33))).toMatch(/33 characters long; Linux allows at most 32/);
    for (const bad of ['Ada', '1ada', '-ada', 'ad a', 'ad:a', 'ad/a', 'ada\n', 'adé', 'ad$a', '../x']) {
      expect(userNameProblem(bad), bad).toMatch(/is not a Linux user name: it must start with a lower-case letter/);
    }
    expect(userNameProblem('root')).toMatch(/"root" is a system account/);
    expect(userNameProblem('nobody')).toMatch(/system account/);
  });
});

describe('host names', () => {
  it('takes RFC 1123 names of one or more labels', () => {
    for (const ok of ['web', 'web-1', 'Web1', '1web', 'a.b.c', 'box.example.org', 'a'.repeat(63)]) expect(hostnameProblem(ok), ok).toBeNull();
  });

  it('refuses what is not one, saying which rule', () => {
    expect(hostnameProblem('')).toMatch(/must not be empty/);
    for (const bad of ['-web', 'web-', 'we_b', 'we b', 'wéb', 'web!', 'a..b', '.web', 'web.']) expect(hostnameProblem(bad), bad).not.toBeNull();
    expect(hostnameProblem('-web')).toMatch(/does not start or end with "-"/);
    expect(hostnameProblem('a..b')).toMatch(/empty part between dots/);
    expect(hostnameProblem('a'.repeat(64))).toMatch(/part of 64 characters/);
    expect(hostnameProblem(Array(60).fill('abcd').join('.'))).toMatch(/at most 253/);
    expect(hostnameProblem('10.0.2.15')).toMatch(/reads as an IP address/);
  });

  it('makes one from a box name when none is given', () => {
    expect(hostnameFromName('My Web Box')).toBe('my-web-box');
    expect(hostnameFromName('build_2026')).toBe('build-2026');
    expect(hostnameFromName('∆∆')).toBeNull();
  });
});

describe('SSH keys', () => {
  it('takes every OpenSSH public key type, with or without a comment', () => {
    for (const type of SSH_KEY_TYPES) expect(sshKeyProblem(publicKey(type)), type).toBeNull();
    expect(sshKeyProblem(publicKey('ssh-rsa', ''))).toBeNull();
    expect(sshKeyProblem(publicKey('ssh-ed25519', 'two words comment'))).toBeNull();
  });

  it('refuses what is not a public key, saying what is wrong', () => {
    expect(sshKeyProblem('')).toMatch(/empty/);
    expect(sshKeyProblem('hello')).toMatch(/is not an SSH public key: it must start with its type/);
    expect(sshKeyProblem('ssh-dss AAAAB3NzaC1kc3MAAACBAP')).toMatch(/must start with its type/);
    expect(sshKeyProblem('ssh-ed25519')).toMatch(/has a type but no key after it/);
    expect(sshKeyProblem('ssh-ed25519 not*base64!')).toMatch(/is not base64/);
    expect(sshKeyProblem('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI')).toMatch(/is not base64/);
    // The body says another type: a line whose halves come from two keys.
    expect(sshKeyProblem(publicKey('ssh-rsa', 'x', 'ssh-ed25519'))).toMatch(/is not a valid ssh-rsa key: its body does not say ssh-rsa/);
    expect(sshKeyProblem('ssh-ed25519 QUJDRA==')).toMatch(/its body does not say ssh-ed25519/);
    expect(sshKeyProblem(`${publicKey()}\n${publicKey()}`)).toMatch(/line break or control character; give one key per line/);
    expect(sshKeyProblem(`${publicKey('ssh-ed25519', 'bad\u001b[2Jcomment')}`)).toMatch(/control character/);
    expect(sshKeyProblem(`${publicKey('ssh-ed25519', 'rtl\u202Eexe')}`)).toMatch(/invisible character in its comment/);
    expect(sshKeyProblem('-----BEGIN OPENSSH PRIVATE KEY-----')).toMatch(/is a private key; give the public key/);
    expect(sshKeyProblem(`ssh-rsa ${'A'.repeat(20000)}`)).toMatch(/at most 16384/);
  });

  it('reads pasted text one key a line, skipping blank lines and comments', () => {
    const a = publicKey();
    const b = publicKey('ssh-rsa');
    expect(sshKeysFromText(`# mine\n${a}\r\n\n  ${b}  \n`)).toEqual([a, b]);
  });
});

describe('passwords', () => {
  it('takes a line of printable text, spaces and non-ASCII included', () => {
    for (const ok of ['x', ' spaced out ', 'pässwörd', 'a'.repeat(256), 'ä'.repeat(128)]) expect(passwordProblem(ok)).toBeNull();
  });

  it('refuses one longer than the 256 bytes openssl passwd hashes (it cuts the rest silently: the password would not work)', () => {
    expect(passwordProblem('a'.repeat(257))).toMatch(/^The password is 257 bytes long in UTF-8; at most 256 are allowed\.$/);
    expect(passwordProblem('ä'.repeat(129))).toMatch(/^The password is 258 bytes long in UTF-8; at most 256/);
  });

  it('refuses an empty, overlong or multi-line one without repeating it', () => {
    const secret = 'Hunter2-secret';
    for (const bad of ['', `${secret}\n`, `${secret}\tx`, `${secret}\u0000`, secret.repeat(100)]) {
      const problem = passwordProblem(bad);
      expect(problem, JSON.stringify(bad)).not.toBeNull();
      expect(problem).not.toContain(secret);
    }
  });

  it('the channel refuses a bad password naming the field, never echoing it', () => {
    const secret = 'Hunter2-secret';
    const call = () => parseInput('boxes:create', { name: 'b', image: 'i', cloudInitUser: 'ada', cloudInitPassword: `${secret}\n` });
    expect(call).toThrow(/^The password contains a control character/);
    try {
      call();
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it('the channel names each cloud-init field in its message, as the CLI names the flag', () => {
    const label = (f: string) => ({ cloudInitUser: '--user', cloudInitHostname: '--hostname', cloudInitSshKeys: '--ssh-key' } as Record<string, string>)[f];
    expect(() => parseInput('boxes:create', { name: 'b', image: 'i', cloudInitUser: 'Ada' }, label)).toThrow(/^--user "Ada" is not a Linux user name/);
    expect(() => parseInput('boxes:create', { name: 'b', image: 'i', cloudInitUser: 'ada', cloudInitHostname: 'a_b' }, label)).toThrow(/^--hostname "a_b" is not a host name/);
    expect(() => parseInput('boxes:create', { name: 'b', image: 'i', cloudInitUser: 'ada', cloudInitSshKeys: ['nope'] }, label)).toThrow(/^--ssh-key "nope" is not an SSH public key/);
    expect(() => parseInput('boxes:create', { name: 'b', image: 'i', cloudInitUser: 'ada', cloudInitSshKeys: Array(33).fill(publicKey()) })).toThrow(/at most 32 SSH keys/);
  });
});
