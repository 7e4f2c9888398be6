import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { registerEnumType, AuthChecker } from 'type-graphql';
import { GraphQLError } from 'graphql';
import type { Config } from '../config';
import type { RequestContext } from '../context';

/** Who may do what (DESIGN.md §5). */
export enum Role {
  PRIVACY_OFFICER = 'PRIVACY_OFFICER',
  ML_ENGINEER = 'ML_ENGINEER',
  AUDITOR = 'AUDITOR',
  LINEAGE_READER = 'LINEAGE_READER',
  INGEST_SERVICE = 'INGEST_SERVICE',
}
registerEnumType(Role, { name: 'Role', description: 'A role carried by the caller\'s token (DESIGN.md §5).' });

export const ALL_ROLES = Object.values(Role);

/** The authenticated caller. */
export interface Viewer {
  subject: string;
  roles: Role[];
}

const ISSUER = 'ai-data-governance';
const AUDIENCE = 'ai-data-governance-api';

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

/** Signs a bearer token for a subject and roles. */
export async function signToken(secret: Uint8Array, subject: string, roles: Role[], expiresIn = '12h'): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(secret);
}

export class AuthenticationError extends Error {}

/** Verifies an `Authorization` header value. Returns undefined when there is none; throws on a bad token. */
export async function authenticate(secret: Uint8Array, header: string | undefined): Promise<Viewer | undefined> {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw new AuthenticationError('Authorization header must be "Bearer <token>"');
  try {
    const { payload } = await jwtVerify(match[1], secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is Role => ALL_ROLES.includes(r as Role)) : [];
    if (!payload.sub || roles.length === 0) throw new AuthenticationError('Token has no subject or no known role');
    return { subject: payload.sub, roles };
  } catch (err) {
    if (err instanceof AuthenticationError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new AuthenticationError('Token expired');
    throw new AuthenticationError('Invalid token');
  }
}

export function unauthenticated(message = 'Authentication required: send "Authorization: Bearer <token>"'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}

export function hasRole(viewer: Viewer | undefined, ...roles: Role[]): boolean {
  return !!viewer && viewer.roles.some((r) => roles.includes(r));
}

/**
 * type-graphql's auth checker: fails closed. `@Authorized()` with no roles means "any authenticated caller";
 * with roles, the caller needs one of them.
 */
export const authChecker: AuthChecker<RequestContext, Role> = ({ context, info }, roles) => {
  if (!context.viewer) throw unauthenticated();
  if (roles.length === 0 || hasRole(context.viewer, ...roles)) return true;
  throw forbidden(`${info.parentType.name}.${info.fieldName} requires one of: ${roles.join(', ')}`);
};
