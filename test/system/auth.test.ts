import { SignJWT } from 'jose';
import { Role } from '../../src/common/auth';
import { ok, startTestApp, useTestApp } from '../helpers';

// A database of its own: the last test checks that the whole audit chain verifies.
const t = useTestApp({ fresh: true });

const now = () => Math.floor(Date.now() / 1000);
const HOUR = 3600;

/** Signs arbitrary claims with the app's secret, issuer and audience (what a careless or hostile issuer could send). */
async function craft(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ iss: 'ai-data-governance', aud: 'ai-data-governance-api', roles: ['PRIVACY_OFFICER'], ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(t.app.secret);
}

const viewer = (token: string) => t.gql('{ viewer { subject roles } }', {}, token);
const refused = async (token: string) => {
  const res = await viewer(token);
  expect(res.status).toBe(401);
  expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  return res.errors![0].message;
};

describe('bearer tokens', () => {
  it('accepts a well-formed token up to the maximum lifetime, and an iat within the clock tolerance', async () => {
    const iat = now();
    expect(ok(await viewer(await craft({ sub: 'ana', iat, exp: iat + 12 * HOUR }))).viewer).toEqual({
      subject: 'ana',
      roles: ['PRIVACY_OFFICER'],
    });
    expect(ok(await viewer(await craft({ sub: 'ana', iat: now() + 20, exp: now() + HOUR }))).viewer.subject).toBe('ana');
  });

  it('refuses a subject that is not a non-empty string', async () => {
    const iat = now();
    for (const sub of [42, { id: 'ana' }, ['ana'], '', '   ', true]) {
      expect(await refused(await craft({ sub, iat, exp: iat + HOUR }))).toMatch(/subject/);
    }
  });

  it('refuses a token without exp, without iat, or living longer than the maximum', async () => {
    const iat = now();
    expect(await refused(await craft({ sub: 'ana', iat }))).toMatch(/"exp"/);
    expect(await refused(await craft({ sub: 'ana', exp: iat + HOUR }))).toMatch(/"iat"/);
    expect(await refused(await craft({ sub: 'ana', iat, exp: iat + 12 * HOUR + 1 }))).toMatch(/lifetime/);
    expect(await refused(await craft({ sub: 'ana', iat: iat - 100 * 24 * HOUR, exp: iat + 100 * 24 * HOUR }))).toMatch(
      /lifetime|too far in the past/,
    );
  });

  it('refuses a token issued in the future beyond the clock tolerance', async () => {
    expect(await refused(await craft({ sub: 'ana', iat: now() + 120, exp: now() + HOUR }))).toMatch(/future/);
  });

  it('honours a configured maximum lifetime', async () => {
    // On the embedded database the second app goes through the first one's socket (one process holds the store).
    const short = await startTestApp({ databaseUrl: t.db.url, dataDir: t.config.dataDir, tokenMaxLifetimeSeconds: HOUR });
    try {
      const iat = now();
      const long = await new SignJWT({ roles: ['AUDITOR'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('x')
        .setIssuer('ai-data-governance')
        .setAudience('ai-data-governance-api')
        .setIssuedAt(iat)
        .setExpirationTime(iat + 2 * HOUR)
        .sign(short.app.secret);
      const res = await short.gql('{ viewer { subject } }', {}, long);
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.errors?.[0].message).toMatch(/lifetime/);
    } finally {
      await short.close();
    }
  });

  it('writes only audit events that verify, whatever the subject', async () => {
    const iat = now();
    for (const sub of ['ünïcødé 👩‍💻', '0042', '\u00e9 vs e\u0301', 'x'.repeat(200)]) {
      const token = await craft({ sub, iat, exp: iat + HOUR });
      const res = ok(
        await t.gql(
          `mutation { policyPublish(input: { key: "auth-test", legalBasis: "test", platforms: [FACEBOOK], kinds: [POST], mode: DRY_RUN }) { userErrors { code } } }`,
          {},
          token,
        ),
      );
      expect(res.policyPublish.userErrors).toEqual([]);
    }
    const numeric = await viewer(await craft({ sub: 42, iat, exp: iat + HOUR }));
    expect(numeric.status).toBe(401);
    expect(ok(await t.gql(`{ auditChainVerification { valid firstBrokenEventId } }`, {}, Role.AUDITOR)).auditChainVerification).toEqual({
      valid: true,
      firstBrokenEventId: null,
    });
  });
});
