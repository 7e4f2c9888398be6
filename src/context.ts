import crypto from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { Viewer } from './common/auth';
import { createLoaders, Loaders } from './loaders';
import type { Services } from './services';

/**
 * Everything a resolver or service needs for one request: the caller, the entity manager (the transaction's, inside a
 * mutation), per-request DataLoaders and the services.
 */
export interface RequestContext {
  viewer?: Viewer;
  requestId: string;
  dataSource: DataSource;
  /** The pool outside mutations; the mutation's transaction inside one (see audit/audited-mutation.ts). */
  manager: EntityManager;
  loaders: Loaders;
  services: Services;
  config: Config;
  log: Logger;
  /** Instant at which this request evaluates "now" (one per request so that every field agrees). */
  now: Date;
}

export interface AppDeps {
  dataSource: DataSource;
  services: Services;
  config: Config;
  log: Logger;
}

/** Builds a fresh context (and fresh loaders: never shared across callers). */
export function createContext(deps: AppDeps, viewer: Viewer | undefined, requestId: string = crypto.randomUUID()): RequestContext {
  const ctx = {
    viewer,
    requestId,
    dataSource: deps.dataSource,
    manager: deps.dataSource.manager,
    services: deps.services,
    config: deps.config,
    log: deps.log.child({ requestId }),
    now: new Date(),
  } as RequestContext;
  ctx.loaders = createLoaders(ctx);
  return ctx;
}
