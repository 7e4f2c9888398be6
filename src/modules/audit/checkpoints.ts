import crypto, { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EntityManager } from 'typeorm';
import type { Config } from '../../config';
import { canonicalJson } from '../../common/canonical-json';
import { keyIdOf, readKey } from '../../common/signing-keys';
import { insertCheckpoint } from './audit.store';

/**
 * Signed checkpoints of the audit chain. A checkpoint states "the chain had `eventCount` events, the last one
 * `lastEventId` with hash `lastHash`", signed with an Ed25519 key the database never sees. Each is kept twice: in the
 * audit_checkpoints table and in an append-only file outside the database (AUDIT_CHECKPOINT_DIR).
 */
export interface Checkpoint {
  lastEventId: string;
  lastHash: string;
  eventCount: number;
  signedAt: string;
  keyId: string;
  signature: string;
}

export type AuditKeyConfig = Pick<Config, 'auditSigningKey' | 'auditPreviousPublicKeys' | 'dataDir' | 'production'>;

export interface AuditKeys {
  privateKey: KeyObject;
  keyId: string;
  /** Public keys whose signatures are accepted, by key id: the signing key's and AUDIT_PREVIOUS_PUBLIC_KEYS. */
  trusted: Map<string, KeyObject>;
}

/**
 * The audit signing key: AUDIT_SIGNING_KEY, or (outside production) one generated once and kept in
 * DATA_DIR/audit-signing-key.pem, beside the auth secret and never in the database.
 */
export function resolveAuditKeys(config: AuditKeyConfig): AuditKeys {
  let privateKey: KeyObject;
  if (config.auditSigningKey) privateKey = readKey(config.auditSigningKey, 'private');
  else {
    if (config.production) throw new Error('AUDIT_SIGNING_KEY is required when NODE_ENV=production');
    const file = path.join(config.dataDir, 'audit-signing-key.pem');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(config.dataDir, { recursive: true });
      const pem = crypto.generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
      try {
        fs.writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    privateKey = readKey(fs.readFileSync(file, 'utf8'), 'private');
  }
  const publicKey = crypto.createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  const trusted = new Map([[keyId, publicKey]]);
  for (const text of config.auditPreviousPublicKeys) {
    const key = readKey(text, 'public');
    trusted.set(keyIdOf(key), key);
  }
  return { privateKey, keyId, trusted };
}

/** The bytes a checkpoint's signature covers. */
const signedBytes = (c: Omit<Checkpoint, 'signature'>) =>
  Buffer.from(
    canonicalJson({
      v: 1,
      lastEventId: c.lastEventId,
      lastHash: c.lastHash,
      eventCount: c.eventCount,
      signedAt: c.signedAt,
      keyId: c.keyId,
    }),
  );

export function signCheckpoint(keys: AuditKeys, head: { lastEventId: string; lastHash: string; eventCount: number }): Checkpoint {
  const unsigned = { ...head, signedAt: new Date().toISOString(), keyId: keys.keyId };
  return { ...unsigned, signature: crypto.sign(null, signedBytes(unsigned), keys.privateKey).toString('base64') };
}

/** Why a checkpoint's signature is not acceptable, or undefined when it verifies with a trusted key. */
export function signatureProblem(keys: AuditKeys, c: Checkpoint): string | undefined {
  const key = keys.trusted.get(c.keyId);
  if (!key) return `is signed by key ${c.keyId}, which is neither AUDIT_SIGNING_KEY nor one of AUDIT_PREVIOUS_PUBLIC_KEYS`;
  let ok = false;
  try {
    ok = crypto.verify(null, signedBytes(c), key, Buffer.from(c.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? undefined : 'has a signature that does not verify';
}

const checkpointFile = (config: Pick<Config, 'auditCheckpointDir'>) => path.join(config.auditCheckpointDir, 'audit-checkpoints.ndjson');

/** Stores a checkpoint: first in the database (committed), then appended to the file. */
export async function storeCheckpoint(manager: EntityManager, config: Pick<Config, 'auditCheckpointDir'>, c: Checkpoint): Promise<string> {
  await insertCheckpoint(manager, c);
  const file = checkpointFile(config);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, `${JSON.stringify(c)}\n`, { mode: 0o600 });
  return file;
}

/** Every checkpoint in the file, oldest first (a line that does not parse is reported as an unsigned entry). */
export function fileCheckpoints(config: Pick<Config, 'auditCheckpointDir'>): Checkpoint[] {
  const file = checkpointFile(config);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      try {
        return JSON.parse(line) as Checkpoint;
      } catch {
        return { lastEventId: '0', lastHash: '', eventCount: 0, signedAt: '', keyId: '?', signature: '' };
      }
    });
}

/** The checkpoint covering the most events. */
export const latest = (list: Checkpoint[]) =>
  list.reduce<Checkpoint | null>((best, c) => (!best || c.eventCount > best.eventCount ? c : best), null);

/**
 * Runs `take` every `seconds` (never two at once) until stop(). The timer is unref'd: it never keeps the process alive.
 */
export function every(seconds: number, take: () => Promise<unknown>): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    take().finally(() => (running = false));
  }, seconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
