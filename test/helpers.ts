import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { Client } from 'pg';
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { loadConfig, Config } from '../src/config';
import { factSession } from '../src/db/citus';
import { openDatabase, Database } from '../src/db/data-source';
import { createApp, App } from '../src/server';
import { ALL_ROLES, Role, signToken } from '../src/common/auth';
import { createContext, RequestContext } from '../src/context';
import { ContentIngestDocument, UsersIngestDocument } from './generated/graphql';

export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
}

export interface TestApp {
  config: Config;
  db: Database;
  app: App;
  url: string;
  tokens: Record<Role, string>;
  /**
   * Runs a GraphQL operation over HTTP as the given role (or with no token): a shared document from test/generated
   * (its data typed) or an inline string. Variables stay loose: tests send wrong ones on purpose.
   */
  gql<T>(document: TypedDocumentNode<T, any>, variables?: Record<string, unknown>, as?: Role | null | string): Promise<GqlResult<T>>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, as?: Role | null | string): Promise<GqlResult<T>>;
  /** A request context for calling services directly (as a role). */
  context(role?: Role): RequestContext;
  /** The application's services. */
  services(): App['services'];
  /** Plain SQL on the application's data source. */
  sql<T = any>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** Where the tests keep their embedded databases. */
const tmpRoot = () => fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-test-'));

/** Configuration for a test run: the PostgreSQL in DATABASE_URL, or a new embedded database in a temp folder. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const base = loadConfig({
    ...process.env,
    DATA_DIR: tmpRoot(),
    SEED_DEMO: 'false',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    NODE_ENV: 'test',
  });
  // Periodic audit checkpoints are off unless a test asks; the checkpoint file lives with the data directory.
  const dataDir = overrides.dataDir ?? base.dataDir;
  return { ...base, auditCheckpointIntervalSeconds: 0, auditCheckpointDir: path.join(dataDir, 'audit'), ...overrides };
}

/**
 * Which database the suite runs on: `citus` (DATABASE_KIND=citus, DATABASE_URL the coordinator of a cluster laid out
 * by deploy/citus/setup.sh), `postgres` (DATABASE_URL) or `embedded`.
 */
export const DATABASE_KIND: 'citus' | 'postgres' | 'embedded' =
  process.env.DATABASE_KIND === 'citus' ? 'citus' : process.env.DATABASE_URL ? 'postgres' : 'embedded';
export const onCitus = DATABASE_KIND === 'citus';

type Test = (name: string, fn: (...args: any[]) => any, timeout?: number) => void;
/**
 * `it` and `describe`, skipped on Citus with the reason in the test's name (jest lists it as skipped):
 * `notOnCitus('why').it('does…', fn)`.
 */
export function notOnCitus(reason: string): { it: Test; describe: Test } {
  const why = (name: string) => `${name} [skipped on Citus: ${reason}]`;
  return onCitus
    ? { it: (name, fn) => it.skip(why(name), fn), describe: (name, fn) => describe.skip(why(name), fn) }
    : { it: (name, fn, timeout) => it(name, fn, timeout), describe: (name, fn) => describe(name, fn) };
}

/** Runs SQL on the database at `url`, one connection. */
async function onDatabase(url: string, sql: string[]): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    for (const q of sql) await c.query(q);
  } finally {
    await c.end();
  }
}

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** The workers registered on the coordinator in DATABASE_URL (host and port). */
async function citusWorkers(url: string): Promise<{ host: string; port: number }[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(`SELECT nodename AS host, nodeport AS port FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid`)).rows;
  } finally {
    await c.end();
  }
}

/**
 * A database nobody else uses: a new database on the server in DATABASE_URL, or a new embedded folder. On Citus, the
 * database is created on the coordinator and every worker with the extension, the workers are registered, and unless
 * `plain` the schema is migrated and distributed by deploy/citus/setup.sh, as an operator would.
 */
export async function freshDatabaseConfig(
  options: { plain?: boolean } = {},
): Promise<{ config: Pick<Config, 'databaseUrl' | 'dataDir'>; drop(): Promise<void> }> {
  const dataDir = tmpRoot();
  const url = process.env.DATABASE_URL;
  if (!url) return { config: { dataDir }, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  const name = `t_${crypto.randomBytes(6).toString('hex')}`;
  const workers = onCitus ? await citusWorkers(url) : [];
  const workerUrl = (w: { host: string; port: number }, db: string) => {
    const u = new URL(withDatabase(url, db));
    u.hostname = w.host;
    u.port = String(w.port);
    return u.toString();
  };
  for (const w of workers) await onDatabase(workerUrl(w, 'postgres'), [`CREATE DATABASE ${name}`]);
  await onDatabase(url, [`CREATE DATABASE ${name}`]);
  const databaseUrl = withDatabase(url, name);
  if (onCitus) {
    for (const w of workers) await onDatabase(workerUrl(w, name), ['CREATE EXTENSION citus']);
    const coordinator = new URL(url);
    await onDatabase(databaseUrl, [
      'CREATE EXTENSION citus',
      `SELECT citus_set_coordinator_host('${coordinator.hostname}', ${Number(coordinator.port || 5432)})`,
      ...workers.map((w) => `SELECT citus_add_node('${w.host}', ${w.port})`),
    ]);
    if (!options.plain) {
      const setup = spawnSync('sh', [path.join(__dirname, '..', 'deploy', 'citus', 'setup.sh')], {
        env: { ...process.env, DATABASE_URL: databaseUrl },
        encoding: 'utf8',
      });
      if (setup.status !== 0) throw new Error(`deploy/citus/setup.sh failed: ${setup.stderr}${setup.stdout}`);
    }
  }
  return {
    config: { databaseUrl, dataDir },
    drop: async () => {
      // FORCE ends client sessions, not Citus's maintenance daemon, which may be connected for a moment: retry then.
      const dropOn = async (server: string) => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await onDatabase(server, [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
          } catch (err) {
            if (attempt >= 10 || !/being accessed by other users/.test(String(err))) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      };
      await dropOn(url);
      for (const w of workers) await dropOn(workerUrl(w, 'postgres'));
    },
  };
}

/** Starts the real application (real schema, real database, real HTTP) on a free port. */
export async function startTestApp(overrides: Partial<Config> = {}, logStream?: NodeJS.WritableStream): Promise<TestApp> {
  const config = testConfig(overrides);
  const db = await openDatabase(config, { statementTimeoutMs: config.statementTimeoutMs });
  const log = logStream ? pino({ level: 'debug' }, logStream as any) : pino({ level: config.logLevel });
  const app = await createApp(config, db.dataSource, log);
  await new Promise<void>((resolve) => app.httpServer.listen(0, '127.0.0.1', resolve));
  const address = app.httpServer.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const tokens = {} as Record<Role, string>;
  for (const role of ALL_ROLES)
    tokens[role] = await signToken(app.secret, `test-${role.toLowerCase()}`, [role], undefined, config.tokenMaxLifetimeSeconds);
  const gql = async (
    document: string | TypedDocumentNode,
    variables?: Record<string, unknown>,
    as: Role | null | string = Role.PRIVACY_OFFICER,
  ) => {
    const token = as == null ? undefined : ((tokens as Record<string, string>)[as] ?? as);
    const query = typeof document === 'string' ? document : print(document);
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GqlResult;
    return { ...body, status: res.status };
  };
  return {
    config,
    db,
    app,
    url,
    tokens,
    gql,
    context: (role = Role.PRIVACY_OFFICER) =>
      createContext(
        { dataSource: db.dataSource, services: app.services, config, log: app.log },
        { subject: `test-${role.toLowerCase()}`, roles: [role] },
      ),
    // On Citus a statement that writes facts names the coordinator's transaction, as the service's writers do
    // (src/db/citus.ts factSession); elsewhere it runs as it is.
    sql: onCitus
      ? (text, params) =>
          db.dataSource.transaction(async (m) => {
            await factSession(m);
            return m.query(text, params);
          })
      : (text, params) => db.dataSource.query(text, params),
    services: () => app.services,
    async close() {
      await app.apollo.stop();
      await new Promise((resolve) => app.httpServer.close(resolve));
      await db.close();
    },
  };
}

/** The built CLI (`npm test` builds first). */
export const CLI_PATH = path.resolve(__dirname, '..', 'dist', 'src', 'cli', 'index.js');

/** Runs the CLI in a child process with the test environment plus `env`. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** startTestApp on a database of its own (see freshDatabaseConfig), dropped by close(). */
export async function startFreshTestApp(overrides: Partial<Config> = {}, logStream?: NodeJS.WritableStream): Promise<TestApp> {
  const fresh = await freshDatabaseConfig();
  const t = await startTestApp({ ...fresh.config, ...overrides }, logStream);
  return {
    ...t,
    async close() {
      await t.close();
      await fresh.drop();
    },
  };
}

export interface UseTestAppOptions {
  /** Overrides of the test configuration (see testConfig). */
  config?: Partial<Config>;
  /** A database of its own (startFreshTestApp), dropped when the app closes. */
  fresh?: boolean;
  /** Where the app's log goes (at debug level), for tests that read it. */
  logStream?: NodeJS.WritableStream;
}

/**
 * The app of a test file or describe block: started in beforeAll, closed in afterAll (hooks run in the order they are
 * registered, so a beforeAll after this call sees the app). The returned object stands for the running app and forwards
 * to it, so that tests write `t.gql(…)` and helpers such as `new World(t)` take it as a TestApp; using it outside a test
 * or hook is an error.
 */
export function useTestApp(options: UseTestAppOptions = {}): TestApp {
  let app: TestApp | undefined;
  beforeAll(async () => {
    const start = options.fresh ? startFreshTestApp : startTestApp;
    app = await start(options.config, options.logStream);
  });
  afterAll(async () => app?.close());
  return new Proxy({} as TestApp, {
    get(_, key) {
      if (!app) throw new Error(`useTestApp: the app is not running (read ${String(key)} inside a test or a hook)`);
      return app[key as keyof TestApp];
    },
  });
}

/** A unique suffix so that tests sharing one database never collide. */
export const uniq = (prefix = 't') => `${prefix}-${crypto.randomBytes(5).toString('hex')}`;

/** Asserts a successful GraphQL response and returns its data. */
export function ok<T = any>(res: GqlResult<T>): T {
  if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors, null, 2)}`);
  return res.data as T;
}

/** Counts the SQL statements the data source issues while `fn` runs. */
export async function countStatements<T>(t: TestApp, fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const logger = t.db.dataSource.logger as any;
  const original = logger.logQuery;
  let statements = 0;
  logger.logQuery = (...args: unknown[]) => {
    statements++;
    return original.apply(logger, args);
  };
  try {
    const result = await fn();
    return { result, statements };
  } finally {
    logger.logQuery = original;
  }
}

/** Test factories: unique people and items through the real ingest mutations. */
export const factory = {
  user: (over: Record<string, unknown> = {}) => ({
    externalId: uniq('u'),
    handle: 'h',
    email: 'p@example.com',
    birthDate: '1990-01-01',
    country: 'DE',
    ...over,
  }),
  item: (authorExternalId: string, over: Record<string, unknown> = {}) => ({
    externalId: uniq('c'),
    authorExternalId,
    platform: 'FACEBOOK',
    kind: 'POST',
    text: `text ${uniq('x')}`,
    language: 'de',
    createdAt: '2025-01-01T00:00:00.000Z',
    visibility: 'PUBLIC',
    labels: [],
    ...over,
  }),
};

/** Ingests users and items through GraphQL; returns their ids by externalId. */
export async function ingest(
  t: TestApp,
  users: Record<string, unknown>[],
  items: Record<string, unknown>[] = [],
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  if (users.length) {
    const r = ok(await t.gql(UsersIngestDocument, { input: { users } }, Role.INGEST_SERVICE));
    if (r.usersIngest.userErrors.length) throw new Error(JSON.stringify(r.usersIngest.userErrors));
    for (const u of r.usersIngest.users!) ids[u.externalId] = u.id;
  }
  if (items.length) {
    const r = ok(await t.gql(ContentIngestDocument, { input: { items } }, Role.INGEST_SERVICE));
    if (r.contentIngest.userErrors.length) throw new Error(JSON.stringify(r.contentIngest.userErrors));
    for (const c of r.contentIngest.items!) ids[c.externalId] = c.id;
  }
  return ids;
}

/** The compiled entry points, for tests that run the service and the CLI as separate processes. */
export const MAIN_JS = path.resolve(__dirname, '..', 'dist', 'src', 'main.js');
export const CLI_JS = path.resolve(__dirname, '..', 'dist', 'src', 'cli', 'index.js');

/**
 * The environment of a server process of its own on a fresh database (freshDatabaseConfig): development, no demo data,
 * logging at info, a free port on loopback. `over` adds or replaces variables.
 */
export const serverEnv = (fresh: { config: Pick<Config, 'databaseUrl' | 'dataDir'> }, over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  DATA_DIR: fresh.config.dataDir,
  DATABASE_URL: fresh.config.databaseUrl ?? '',
  SEED_DEMO: 'false',
  LOG_LEVEL: 'info',
  PORT: '0',
  HOST: '127.0.0.1',
  NODE_ENV: 'development',
  ...over,
});

/** Starts `node dist/src/main.js` with `env` (LOG_LEVEL info or lower, PORT 0) and resolves once it listens. */
export function startServerProcess(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; port: string }> {
  const child = spawn(process.execPath, [MAIN_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}`, port: m[1] });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out.slice(-1500)}`)));
  });
}

/** Sends `signal` to a child process and resolves when it has exited. */
export const stopProcess = (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') =>
  new Promise((r) => {
    child.once('exit', r);
    child.kill(signal);
  });

/** The 99th percentile of `values` (the nearest rank; undefined when there are none). */
export const p99 = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
};

/**
 * Ordinary requests, what other users see during an attack: `send` one after another on `lanes` lanes, 20 ms apart,
 * until stop(). A request fails when `send` rejects or resolves to anything but a 200 without errors. stop() gives the
 * latencies' p99 in ms, how many were sent and the failures.
 */
export function ordinaryTraffic(send: () => Promise<{ status: number; errors?: unknown }>, lanes = 3) {
  const latencies: number[] = [];
  const failures: string[] = [];
  let running = true;
  const lane = async () => {
    while (running) {
      const started = Date.now();
      try {
        const a = await send();
        if (a.status !== 200 || a.errors) failures.push(`${a.status} ${JSON.stringify(a.errors)}`);
      } catch (err) {
        failures.push(String(err));
      }
      latencies.push(Date.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const done = Promise.all(Array.from({ length: lanes }, lane));
  return {
    async stop() {
      running = false;
      await done;
      return { p99: p99(latencies), count: latencies.length, failures };
    },
  };
}

/**
 * Runs `work` while this process's event loop is measured with perf_hooks.monitorEventLoopDelay (sampled every
 * `resolution` ms): the result, and the longest delay and the delays' p99 seen meanwhile, in ms.
 */
export async function eventLoopDelayDuring<T>(
  work: () => Promise<T>,
  resolution = 10,
): Promise<{ result: T; maxMs: number; p99Ms: number }> {
  const h = monitorEventLoopDelay({ resolution });
  h.enable();
  try {
    const result = await work();
    return { result, maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 };
  } finally {
    h.disable();
  }
}

/** The bounds issue 13 sets for what other users see during an attack (ms). */
export const OTHERS_BOUNDS = { ordinaryP99: 1000, healthP99: 200, eventLoopP99: 100 };

/**
 * A server's event-loop delay p99 in ms since the last scrape of its /metrics (prom-client's
 * perf_hooks.monitorEventLoopDelay histogram, reset at every scrape).
 */
export const serverEventLoopP99 = async (url: string): Promise<number> =>
  1000 * Number(/^nodejs_eventloop_lag_p99_seconds ([\d.e+-]+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);

/** A server to send requests to: its address and a token per role. */
export type Target = Pick<TestApp, 'url' | 'tokens'>;

/** An ordinary authenticated read: a small page of people and the policies, as an AUDITOR. */
export const ordinaryRead = async (app: Target) => {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.tokens.AUDITOR}` },
    body: JSON.stringify({ query: `{ users(first: 3) { edges { node { id country } } } policies { key } }` }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, errors: ((await res.json()) as { errors?: unknown[] }).errors };
};

/**
 * Runs `attack` while other users are watched: ordinary reads on `lanes` lanes, /healthz every 20 ms, and the server's
 * event-loop delay p99 over the whole attack (from its /metrics). Gives the attack's result and what the others saw.
 */
export async function whileOthersWatch<T>(app: Target, attack: () => Promise<T>, lanes = 4) {
  await serverEventLoopP99(app.url);
  const ordinary = ordinaryTraffic(() => ordinaryRead(app), lanes);
  const health = ordinaryTraffic(
    async () => ({ status: (await fetch(`${app.url}/healthz`, { signal: AbortSignal.timeout(15_000) })).status }),
    1,
  );
  const result = await attack();
  return { result, ordinary: await ordinary.stop(), health: await health.stop(), eventLoopP99: await serverEventLoopP99(app.url) };
}
