import crypto from 'node:crypto';
import express from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import { signToken, type Role } from '../common/auth';
import { devSubject } from '../common/tokens';
import { readiness } from '../db/readiness';
import { ideRouter } from '../ide/ide';

/** How long a token that the IDE signs for a developer lasts. */
const DEV_TOKEN_LIFETIME_SECONDS = 3600;

/**
 * Every log line of a request carries its id (X-Request-Id when the caller sends a sane one). Headers are not logged:
 * the Authorization header is a credential.
 */
export function requestLog(log: Logger): express.RequestHandler {
  return pinoHttp({
    logger: log,
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : crypto.randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: String(req.url).split('?')[0] }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
  });
}

/** GET / (what the service offers), /healthz (alive) and /readyz (ready, or what fails). */
export function serviceRoutes(config: Config, dataSource: DataSource): express.Router {
  const router = express.Router();
  router.get('/', (_req, res) => {
    res.json({
      service: 'ai-data-governance',
      graphql: '/graphql',
      objectionsImport: 'POST /objections/import (text/csv or application/x-ndjson)',
      ide: config.ide ? '/graphql (open it in a browser)' : null,
      health: '/healthz',
      ready: '/readyz',
      metrics: '/metrics',
      docs: 'README.md in the repository',
    });
  });
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Names what fails: { status, failing: ['database' | 'migrations' | 'replica[i]'], checks: { name: { status, message } } }.
  router.get('/readyz', async (_req, res, next) => {
    try {
      const ready = await readiness(dataSource);
      res.status(ready.status === 'ready' ? 200 : 503).json(ready);
    } catch (err) {
      next(err);
    }
  });
  return router;
}

/** The IDE; outside production, it signs development tokens for the role a developer picks (never in production). */
export function ideRoutes(config: Config, secret: Uint8Array): express.Router {
  const devTokenSeconds = Math.min(DEV_TOKEN_LIFETIME_SECONDS, config.tokenMaxLifetimeSeconds);
  const devToken = async (role: Role) => ({
    token: await signToken(secret, devSubject(role), [role], `${devTokenSeconds}s`, config.tokenMaxLifetimeSeconds),
    subject: devSubject(role),
    expiresInSeconds: devTokenSeconds,
  });
  return ideRouter(config.production ? {} : { devToken });
}
