import { jwtVerify, errors as joseErrors } from 'jose';
import { registerEnumType, AuthChecker } from 'type-graphql';
import { GraphQLError } from 'graphql';
import { DEFAULT_TOKEN_MAX_LIFETIME_SECONDS } from '../config';
import type { RequestContext } from '../context';
import { ErrorCode, errorExtensions } from './errors';
import { ALL_ROLES, AUDIENCE, CLOCK_TOLERANCE_SECONDS, formatSeconds, ISSUER, Role, subjectProblem } from './tokens';

// Token signing lives in tokens.ts (light to load: `npm run token` needs nothing else); re-exported for callers.
export { ALL_ROLES, CLOCK_TOLERANCE_SECONDS, Role, resolveAuthSecret, signToken, subjectProblem, TokenSigningError } from './tokens';

registerEnumType(Role, { name: 'Role', description: "A role carried by the caller's token (DESIGN.md §5)." });

/** The authenticated caller. */
export interface Viewer {
  subject: string;
  roles: Role[];
}

export class AuthenticationError extends Error {}

const CLAIM_PROBLEMS: Record<string, string> = {
  'exp:missing': 'Token has no expiry ("exp")',
  'iat:missing': 'Token has no issue time ("iat")',
  'sub:missing': 'Token subject ("sub") must not be empty',
  'iat:check_failed': 'Token issued in the future ("iat")',
};

/**
 * Verifies an `Authorization` header value. Returns undefined when there is none; throws on a bad token. A token must
 * carry a non-empty string subject, an issue time (`iat`) no more than CLOCK_TOLERANCE_SECONDS in the future and an
 * expiry (`exp`) at most `maxLifetimeSeconds` after it.
 */
export async function authenticate(
  secret: Uint8Array,
  header: string | undefined,
  maxLifetimeSeconds = DEFAULT_TOKEN_MAX_LIFETIME_SECONDS,
): Promise<Viewer | undefined> {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw new AuthenticationError('Authorization header must be "Bearer <token>"');
  try {
    const { payload } = await jwtVerify(match[1], secret, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
      requiredClaims: ['sub', 'iat', 'exp'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      // Also refuses an iat further than the tolerance in the future.
      maxTokenAge: maxLifetimeSeconds,
    });
    const problem = subjectProblem(payload.sub);
    if (problem) throw new AuthenticationError(problem);
    if (payload.exp! - payload.iat! > maxLifetimeSeconds) {
      throw new AuthenticationError(`Token lifetime (exp - iat) exceeds the maximum of ${formatSeconds(maxLifetimeSeconds)}`);
    }
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is Role => ALL_ROLES.includes(r as Role)) : [];
    if (roles.length === 0) throw new AuthenticationError('Token has no known role');
    return { subject: payload.sub as string, roles };
  } catch (err) {
    if (err instanceof AuthenticationError) throw err;
    if (err instanceof joseErrors.JWTExpired) {
      throw new AuthenticationError(
        err.claim === 'iat' ? 'Token lifetime exceeds the maximum (issued too far in the past)' : 'Token expired',
      );
    }
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      const known = CLAIM_PROBLEMS[`${err.claim}:${err.reason}`];
      throw new AuthenticationError(
        known ?? `Invalid token: "${err.claim}" claim ${err.reason === 'invalid' ? 'is malformed' : 'check failed'}`,
      );
    }
    throw new AuthenticationError('Invalid token');
  }
}

export function unauthenticated(message = 'Authentication required: send "Authorization: Bearer <token>"'): GraphQLError {
  return new GraphQLError(message, { extensions: errorExtensions(ErrorCode.UNAUTHENTICATED) });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: errorExtensions(ErrorCode.FORBIDDEN) });
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
