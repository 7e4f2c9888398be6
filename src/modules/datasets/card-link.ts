import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Config } from '../../config';
import { ALL_ROLES, ISSUER, resolveAuthSecret, Role, subjectProblem } from '../../common/tokens';
import type { Viewer } from '../../common/auth';
import { DomainError, ErrorCode } from '../../common/errors';

/**
 * Short-lived signed links to a dataset's HTML card, so that a browser tab can open it without an Authorization
 * header. The signature is a JWT (HS256 with the service's AUTH_SECRET) whose audience is only the card route: it
 * names the dataset, the viewer's subject and roles and an expiry. A bearer token is not a card signature and a card
 * signature is not a bearer token (different audiences), and one dataset's link opens no other.
 */
export const CARD_LINK_AUDIENCE = 'ai-data-governance-dataset-card';
/** How long a card link opens its card. */
export const CARD_LINK_LIFETIME_SECONDS = 15 * 60;

const secrets = new WeakMap<object, Uint8Array>();
/** The secret the tokens are signed with (resolved once per configuration, as createApp does). */
function secretOf(config: Config): Uint8Array {
  let s = secrets.get(config);
  if (!s) secrets.set(config, (s = resolveAuthSecret(config)));
  return s;
}

/** `/datasets/{id}/card?sig=…`: relative to the service's base URL. */
export async function cardLink(
  config: Config,
  datasetId: string,
  viewer: Viewer,
  lifetimeSeconds = Math.min(CARD_LINK_LIFETIME_SECONDS, config.tokenMaxLifetimeSeconds),
): Promise<string> {
  const sig = await new SignJWT({ roles: viewer.roles, ds: datasetId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(viewer.subject)
    .setIssuer(ISSUER)
    .setAudience(CARD_LINK_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSeconds)
    .sign(secretOf(config));
  return `/datasets/${encodeURIComponent(datasetId)}/card?sig=${sig}`;
}

/** A refused link (answered as a problem document with the code's status: 401 or 403). */
export class CardLinkError extends DomainError {
  constructor(code: ErrorCode.UNAUTHENTICATED | ErrorCode.FORBIDDEN, message: string) {
    super(code, message);
  }
}

/** The viewer a link was signed for, when it is valid for this dataset now; otherwise throws a CardLinkError. */
export async function viewerOfCardLink(config: Config, datasetId: string, sig: string): Promise<Viewer> {
  let payload;
  try {
    ({ payload } = await jwtVerify(sig, secretOf(config), {
      issuer: ISSUER,
      audience: CARD_LINK_AUDIENCE,
      algorithms: ['HS256'],
      requiredClaims: ['sub', 'iat', 'exp'],
      maxTokenAge: config.tokenMaxLifetimeSeconds,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired)
      throw new CardLinkError(
        ErrorCode.UNAUTHENTICATED,
        'This card link has expired: ask for a new one (the cardUrl field of the dataset)',
      );
    throw new CardLinkError(
      ErrorCode.UNAUTHENTICATED,
      'This card link is not valid (altered or not signed by this service): ask for a new one (dataset.cardUrl)',
    );
  }
  if (payload.ds !== datasetId) throw new CardLinkError(ErrorCode.FORBIDDEN, 'This card link is for another dataset');
  const roles = Array.isArray(payload.roles) ? (payload.roles as unknown[]).filter((r): r is Role => ALL_ROLES.includes(r as Role)) : [];
  if (subjectProblem(payload.sub) || !roles.length) throw new CardLinkError(ErrorCode.UNAUTHENTICATED, 'This card link is not valid');
  return { subject: payload.sub as string, roles };
}
