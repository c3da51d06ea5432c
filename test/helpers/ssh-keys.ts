// SSH public keys made in the test, with no ssh-keygen: the blob (RFC 4253 6.6) is a
// length-prefixed type followed by key material, which is all the rules look at.
import crypto from 'node:crypto';

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** `TYPE BASE64 COMMENT` with random key material; `bodyType` lets the blob say another type. */
export function publicKey(type = 'ssh-ed25519', comment = 'ada@laptop', bodyType = type): string {
  const blob = Buffer.concat([lengthPrefixed(Buffer.from(bodyType)), lengthPrefixed(crypto.randomBytes(32))]);
  return `${type} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

