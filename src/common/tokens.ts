import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, decodeJwt } from 'jose';
import { DEFAULT_TOKEN_MAX_LIFETIME_SECONDS, type Config } from '../config';

/** Who may do what (DESIGN.md §5). */
export enum Role {
  PRIVACY_OFFICER = 'PRIVACY_OFFICER',
  ML_ENGINEER = 'ML_ENGINEER',
  AUDITOR = 'AUDITOR',
  LINEAGE_READER = 'LINEAGE_READER',
  INGEST_SERVICE = 'INGEST_SERVICE',
}
export const ALL_ROLES = Object.values(Role);

/** The subject of the development tokens (start-up banner, the IDE's role picker): one per role. */
export const devSubject = (role: Role) => `dev-${role.toLowerCase()}`;

export const ISSUER = 'ai-data-governance';
export const AUDIENCE = 'ai-data-governance-api';

/**
 * The HMAC secret for tokens: AUTH_SECRET, or (outside production) one generated once and kept in DATA_DIR so that
 * tokens survive restarts.
 */
export function resolveAuthSecret(config: Pick<Config, 'authSecret' | 'dataDir' | 'production'>): Uint8Array {
  if (config.authSecret) return new TextEncoder().encode(config.authSecret);
  if (config.production) throw new Error('AUTH_SECRET is required when NODE_ENV=production');
  const file = path.join(config.dataDir, 'auth-secret');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(config.dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, crypto.randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return new TextEncoder().encode(fs.readFileSync(file, 'utf8').trim());
}

/** How far a token's `iat` may lie in the future (clocks of issuer and service differ a little), in seconds. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Longest subject accepted (it is copied into every audit event the caller writes). */
const MAX_SUBJECT_LENGTH = 200;

// eslint-disable-next-line no-control-regex
const CONTROL_OR_LONE_SURROGATE = /[\u0000-\u001f\u007f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a subject is unacceptable, or undefined: a non-empty string, not only blanks, without control characters. */
export function subjectProblem(subject: unknown): string | undefined {
  if (typeof subject !== 'string') return 'Token subject ("sub") must be a string';
  if (!subject.trim()) return 'Token subject ("sub") must not be empty';
  if (subject.length > MAX_SUBJECT_LENGTH) return `Token subject ("sub") must be at most ${MAX_SUBJECT_LENGTH} characters`;
  if (CONTROL_OR_LONE_SURROGATE.test(subject)) return 'Token subject ("sub") must be well-formed text without control characters';
  return undefined;
}

/**
 * Signs a bearer token for a subject and roles. `expiresIn` is anything jose accepts ("12h", "30 minutes", "7d"; default
 * the maximum); a lifetime that is not positive or exceeds `maxLifetimeSeconds` is refused with a TokenSigningError.
 */
export async function signToken(
  secret: Uint8Array,
  subject: string,
  roles: Role[],
  expiresIn?: string,
  maxLifetimeSeconds = DEFAULT_TOKEN_MAX_LIFETIME_SECONDS,
): Promise<string> {
  const problem = subjectProblem(subject);
  if (problem) throw new TokenSigningError(problem);
  const token = await new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(expiresIn ?? `${maxLifetimeSeconds}s`)
    .sign(secret);
  const { iat, exp } = decodeJwt(token);
  const lifetime = exp! - iat!;
  if (lifetime <= 0) throw new TokenSigningError(`token lifetime "${expiresIn}" must be positive`);
  if (lifetime > maxLifetimeSeconds) {
    throw new TokenSigningError(
      `token lifetime "${expiresIn}" (${formatSeconds(lifetime)}) exceeds the maximum of ${formatSeconds(maxLifetimeSeconds)} (TOKEN_MAX_LIFETIME)`,
    );
  }
  return token;
}

export const formatSeconds = (s: number) => (s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);

/** A token the signer refuses to make (bad subject or lifetime). */
export class TokenSigningError extends Error {}
