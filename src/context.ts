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

/**
 * The context object. Apollo hands resolvers a shallow copy of it, so the entity manager lives in a box that every copy
 * (and the loaders, built once per request) shares: when a mutation swaps in its transaction, everyone sees it.
 */
class Context {
  private readonly box: { manager: EntityManager };
  loaders: Loaders;
  constructor(
    readonly viewer: Viewer | undefined,
    readonly requestId: string,
    readonly dataSource: DataSource,
    readonly services: Services,
    readonly config: Config,
    readonly log: Logger,
    readonly now: Date,
  ) {
    this.box = { manager: dataSource.manager };
  }
  get manager(): EntityManager {
    return this.box.manager;
  }
  set manager(manager: EntityManager) {
    this.box.manager = manager;
  }
}

/** Builds a fresh context (and fresh loaders: never shared across callers). */
export function createContext(deps: AppDeps, viewer: Viewer | undefined, requestId: string = crypto.randomUUID()): RequestContext {
  // A request's logger (pino-http) already carries its id; other callers (CLI, seed) get one here.
  const log = (deps.log as Logger & { bindings(): Record<string, unknown> }).bindings?.().reqId
    ? deps.log
    : deps.log.child({ reqId: requestId });
  const ctx = new Context(viewer, requestId, deps.dataSource, deps.services, deps.config, log, new Date());
  ctx.loaders = createLoaders(ctx);
  return ctx;
}
