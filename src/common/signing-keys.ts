import crypto, { KeyObject } from 'node:crypto';

/** The audit checkpoints' Ed25519 keys as configured (read at start by the configuration, used by the audit module). */

/** Reads a key from PEM text or from base64 of its DER form (PKCS#8 for private keys, SPKI for public ones). */
export function readKey(text: string, kind: 'private' | 'public'): KeyObject {
  const trimmed = text.trim().replace(/\\n/g, '\n');
  const pem = trimmed.startsWith('-----');
  const input = pem ? trimmed : Buffer.from(trimmed, 'base64');
  const key =
    kind === 'private'
      ? crypto.createPrivateKey(pem ? input : { key: input as Buffer, format: 'der', type: 'pkcs8' })
      : crypto.createPublicKey(pem ? input : { key: input as Buffer, format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the audit ${kind} key must be an Ed25519 key, got ${key.asymmetricKeyType}`);
  return key;
}

/** Key id: the first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
export const keyIdOf = (publicKey: KeyObject) =>
  crypto
    .createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .slice(0, 16);

/** Checks a configured key and previous public keys; returns the problems, for configuration errors at start. */
export function auditKeyProblems(signingKey: string | undefined, previous: string[]): string[] {
  const problems: string[] = [];
  const keys: [string | undefined, 'private' | 'public', string][] = [
    [signingKey, 'private', 'AUDIT_SIGNING_KEY'],
    ...previous.map((p): [string, 'public', string] => [p, 'public', 'AUDIT_PREVIOUS_PUBLIC_KEYS']),
  ];
  for (const [text, kind, name] of keys) {
    if (!text) continue;
    try {
      readKey(text, kind);
    } catch (err) {
      problems.push(`${name} must be an Ed25519 ${kind} key as PEM or base64 DER (${(err as Error).message})`);
    }
  }
  return problems;
}
