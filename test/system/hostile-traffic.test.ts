import crypto from 'node:crypto';
import http from 'node:http';
import { getIntrospectionQuery } from 'graphql';
import { Client, type Pool } from 'pg';
import { ALL_ROLES, resolveAuthSecret, Role, signToken } from '../../src/common/auth';
import { runAudited } from '../../src/modules/audit/audited-mutation';
import { writeSynthetic } from '../../src/modules/seed/synthetic';
import { abortedExport, HOSTILE_ITEMS, hostileCases } from '../support/hostile-cases';
import {
  DATABASE_KIND,
  ok,
  onCitus,
  ordinaryRead,
  ordinaryTraffic,
  OTHERS_BOUNDS,
  startServerProcess,
  startTestApp,
  stopProcess,
  Target,
  TestApp,
  uniq,
  whileOthersWatch,
} from '../helpers';

/**
 * Hostile traffic against a live server: aborted and slow downloads, while ordinary requests measure what other users
 * see. Each case must leave the pool whole and the process alive.
 */
let t: TestApp;
let datasetId: string;
let exportBytes: number;
const postgres = () => t.db.mode === 'postgres';
const pool = (app: TestApp = t) => (app.db.dataSource.driver as unknown as { master: Pool }).master;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // Small export budget and short slow-client windows, so that the cases run in seconds.
  t = await startTestApp({ exportConcurrency: 3, exportIdleTimeoutMs: 3000, exportMinBytesPerSecond: 16 * 1024 });
  // One data set per database (the suite reuses it when it runs again on the same PostgreSQL).
  const prefix = 'hostile-traffic-';
  const [seeded] = await t.sql(`SELECT count(*)::int AS n FROM users WHERE external_id LIKE $1`, [`${prefix}%`]);
  if (!seeded.n)
    await runAudited(t.context(Role.INGEST_SERVICE), 'syntheticSeed', {}, async (tx) => {
      await writeSynthetic(tx.manager, { users: 2000, items: 30000, objections: 0, seed: 13, prefix, profile: 'clean' });
      return { payload: undefined, targetIds: [] };
    });
  const made = ok(
    await t.gql(
      `mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { id memberCount } userErrors { code } } }`,
      { i: { name: 'hostile-traffic', filters: { languages: ['zzc'] }, cap: 30000 } },
      Role.ML_ENGINEER,
    ),
  );
  datasetId = made.datasetRequest.dataset.id;
  const full = await fetch(`${t.url}/datasets/${datasetId}/export.ndjson`, {
    headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` },
  });
  exportBytes = (await full.arrayBuffer()).byteLength;
}, 300_000);
afterAll(async () => t?.close());

interface ExportAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  req: http.ClientRequest;
}

/** Starts an export; `onResponse` gets a 200 response (paused) and the request, to read from or abort. */
function openExport(app: TestApp, onResponse: (res: http.IncomingMessage, req: http.ClientRequest) => void): Promise<ExportAnswer> {
  return new Promise((resolve) => {
    const req = http.get(
      `${app.url}/datasets/${datasetId}/export.ndjson`,
      { headers: { authorization: `Bearer ${app.tokens.ML_ENGINEER}` } },
      (res) => {
        res.on('error', () => undefined);
        if (res.statusCode !== 200) {
          let body = '';
          res
            .setEncoding('utf8')
            .on('data', (c) => (body += c))
            .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, req }));
          return;
        }
        onResponse(res, req);
        resolve({ status: 200, headers: res.headers, body: '', req });
      },
    );
    req.on('error', () => resolve({ status: 0, headers: {}, body: '', req }));
  });
}

/** Ordinary authenticated requests, one after another on `lanes` lanes, until `stop()`. */
const steadyTraffic = (app: TestApp, lanes = 4) => ordinaryTraffic(() => ordinaryRead(app), lanes);

/** The pool is whole: nothing checked out, nobody waiting, and no backend of the service still running a COPY. */
async function expectPoolWhole(app: TestApp = t) {
  const deadline = Date.now() + 10_000;
  const p = pool(app);
  while ((p.waitingCount > 0 || p.idleCount < p.totalCount) && Date.now() < deadline) await sleep(50);
  expect({ waiting: p.waitingCount, busy: p.totalCount - p.idleCount }).toEqual({ waiting: 0, busy: 0 });
  if (app.db.mode === 'postgres') {
    const [copying] = await app.sql(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'COPY%' AND state <> 'idle'`,
    );
    expect(copying.n).toBe(0);
  }
  // More ordinary requests at once than the pool has connections: all answered, and quickly.
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 25 }, () => app.gql(`{ users(first: 1) { edges { node { id } } } }`, {}, Role.AUDITOR)),
  );
  expect(answers.filter((a) => a.status !== 200 || a.errors)).toEqual([]);
  expect(Date.now() - started).toBeLessThan(10_000);
}

describe('aborted downloads', () => {
  it('aborts 50 exports at random points: the pool stays whole and the process alive', async () => {
    expect(exportBytes).toBeGreaterThan(2_000_000);
    // In batches the size of the export budget, so that every one streams before it is aborted.
    for (let started = 0; started < 50; started += t.config.exportConcurrency) {
      const batch = Math.min(t.config.exportConcurrency, 50 - started);
      await Promise.all(Array.from({ length: batch }, () => abortedExport(t, datasetId, Math.floor(Math.random() * exportBytes * 0.6))));
    }
    await expectPoolWhole();
    if (postgres()) {
      // What the pool's idle timeout does 10 s later, at once: the server ends every connection of the service.
      await t.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      await sleep(500);
    }
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    await expectPoolWhole();
  }, 120_000);
});

describe('slow readers', () => {
  // The embedded database has one connection, which an export necessarily holds while it streams: there, other requests
  // wait for the slow-client cut. Slow readers are a concern of a server deployment.
  const onServer = process.env.DATABASE_URL ? it : it.skip;
  onServer(
    '12 clients reading at 1 KB/s neither starve other requests nor keep their connections (server only: the embedded database has one connection)',
    async () => {
      const app = t;
      {
        const traffic = steadyTraffic(app);
        const readers = await Promise.all(
          Array.from({ length: 12 }, () =>
            openExport(app, (res) => {
              const timer = setInterval(() => res.read(100), 100);
              res.on('close', () => clearInterval(timer));
            }),
          ),
        );
        await sleep(8000);
        const seen = await traffic.stop();
        expect(seen.failures).toEqual([]);
        expect(seen.count).toBeGreaterThan(20);
        // Starved, they waited 30 s for a connection; the bound is generous because CI's 2 cores may be busy (the
        // quiet-machine figure, well under 1 s, belongs to the benchmarks).
        expect(seen.p99).toBeLessThan(5000);
        const refused = readers.filter((o) => o.status !== 200);
        expect(refused.length).toBe(9);
        for (const r of refused) {
          expect(r.status).toBe(503);
          expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
          expect(r.headers['content-type']).toMatch(/^application\/(problem\+)?json/);
          expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'BUSY' } });
        }
        // The slow readers were cut by then (3 s windows): their connections and export slots are back.
        await expectPoolWhole(app);
        const fresh = await fetch(`${app.url}/datasets/${datasetId}/export.ndjson`, {
          headers: { authorization: `Bearer ${app.tokens.ML_ENGINEER}` },
        });
        expect(fresh.status).toBe(200);
        expect((await fresh.arrayBuffer()).byteLength).toBe(exportBytes);
        for (const r of readers) r.req.destroy();
      }
    },
    120_000,
  );
});

describe('statement timeouts', () => {
  // Locks held by another session make statements wait; PGlite has one connection, so this runs on PostgreSQL only.
  const onPostgres = process.env.DATABASE_URL ? it : it.skip;
  onPostgres(
    'ends an ordinary statement at its timeout with TIMEOUT, and gives builds their longer one',
    async () => {
      const app = await startTestApp({ statementTimeoutMs: 1000, buildStatementTimeoutMs: 60_000 });
      const locker = new Client({ connectionString: app.db.url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE datasets IN ACCESS EXCLUSIVE MODE');
        const build = app.gql(
          `mutation { datasetRequest(input: { name: "${uniq('slow')}", filters: { languages: ["zzq"] } }) { dataset { id } userErrors { code } } }`,
          {},
          Role.ML_ENGINEER,
        );
        const started = Date.now();
        const read = await app.gql(`{ datasets(first: 1) { edges { node { id } } } }`, {}, Role.AUDITOR);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(read.errors?.[0].extensions?.code).toBe('TIMEOUT');
        expect(read.errors?.[0].message).toMatch(/time/i);
        await sleep(2500);
        await locker.query('COMMIT');
        // The build waited on the same lock longer than an ordinary statement may, and finished.
        expect(ok(await build).datasetRequest.userErrors).toEqual([]);
        await expectPoolWhole(app);
      } finally {
        await locker.end();
        await app.close();
      }
    },
    60_000,
  );
});

describe('document limits fail closed', () => {
  const post = (body: unknown, token: string | null = t.tokens.AUDITOR) =>
    fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] },
    }));
  /** Refused with 400 and no data: BAD_USER_INPUT, or GRAPHQL_PARSE_FAILED for a document over the token limit. */
  const refusedBeforeExecution = (res: Awaited<ReturnType<typeof post>>, code = 'BAD_USER_INPUT') => {
    expect({ status: res.status, data: res.body.data, error: res.body.errors?.[0] }).toMatchObject({
      status: 400,
      data: undefined,
      error: { extensions: { code } },
    });
  };
  const fanned = Array.from({ length: 20 }, (_, i) => `a${i}: users(first: 500) { edges { node { id country contentCount } } }`).join(' ');

  it('refuses a costly query padded with 10,001 __typename selections (the analyser gives up: the document is refused)', async () => {
    refusedBeforeExecution(await post({ query: `{ ${fanned} }` }));
    refusedBeforeExecution(await post({ query: `{ ${fanned} ${'__typename '.repeat(10_001)}}` }), 'GRAPHQL_PARSE_FAILED');
    // Padding the analyser cannot price (a variable that does not coerce) refuses the document rather than running it.
    refusedBeforeExecution(
      await post({ query: `query($n: Int) { ${fanned.replace(/first: 500/g, 'first: $n')} }`, variables: { n: 'many' } }),
    );
  });

  it('prices whole-corpus fields: 1,000 aliases of eligibilityReport are refused at once, one runs', async () => {
    const started = Date.now();
    refusedBeforeExecution(
      await post({ query: `{ ${Array.from({ length: 1000 }, (_, i) => `r${i}: eligibilityReport { evaluated }`).join(' ')} }` }),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    refusedBeforeExecution(
      await post({ query: `{ ${Array.from({ length: 40 }, (_, i) => `r${i}: eligibilityReport { evaluated }`).join(' ')} }` }),
    );
    const one = await post({ query: `{ eligibilityReport { evaluated } }` });
    expect(one.body.errors).toBeUndefined();
  }, 30_000);

  it('refuses documents with many fields or aliases before validating them (validation compares same-named fields pairwise)', async () => {
    // 1,000 copies of one field took graphql-js's validation 0.3-0.5 s; 1,000 aliases of eligibilityReport 20-40 ms each.
    const copies = await post({ query: `{ ${'users(first: 1) { totalCount } '.repeat(1000)}}` });
    refusedBeforeExecution(copies);
    expect(copies.body.errors?.[0].message).toMatch(/fields; the limit is 500/);
    const aliases = await post({
      query: `{ ${Array.from({ length: 1000 }, (_, i) => `r${i}: eligibilityReport { evaluated }`).join(' ')} }`,
    });
    refusedBeforeExecution(aliases);
    expect(aliases.body.errors?.[0].message).toMatch(/1000 aliases; the limit is 30/);
    // The IDE's introspection query is well within both.
    const ide = await post({ query: getIntrospectionQuery() });
    expect(ide.body.errors).toBeUndefined();
  });

  it('bounds introspection-only operations like any other', async () => {
    const started = Date.now();
    refusedBeforeExecution(
      await post({ query: `{ ${Array.from({ length: 2500 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }` }),
      'GRAPHQL_PARSE_FAILED',
    );
    refusedBeforeExecution(
      await post({ query: `{ ${Array.from({ length: 100 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }` }),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    const one = await post({ query: `{ __schema { queryType { name } } }` });
    expect(one.body.errors).toBeUndefined();
  });
});

describe('each attack of the issue beside ordinary traffic', () => {
  // One case per item of issue 13 (test/support/hostile-cases.ts), each sustained for 3 s while ordinary authenticated reads and
  // /healthz probes run: no 5xx, the attacker refused with a 4xx (aborted and slow downloads: no 5xx), no failed ordinary
  // request, the process alive and its pool whole; and the issue's bounds on what the others see. On PostgreSQL the
  // attacked server is a process of its own on the same database, so that its event loop (from its /metrics) carries
  // the server's work only, not this process's clients. The bounds hold on a database server only: the embedded
  // database (PGlite, served here in-process) runs every statement on the server's event loop, so there each ordinary
  // query holds the loop and the others (figures logged, not bounded).
  const embedded = DATABASE_KIND === 'embedded';
  let target: Target = { url: '', tokens: {} as TestApp['tokens'] };
  let stop = async () => undefined as unknown;
  beforeAll(async () => {
    if (embedded) {
      target = t;
      return;
    }
    const authSecret = crypto.randomBytes(32).toString('hex');
    const server = await startServerProcess({
      ...process.env,
      DATABASE_URL: t.db.url,
      AUTH_SECRET: authSecret,
      SEED_DEMO: 'false',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'test',
      EXPORT_CONCURRENCY: String(t.config.exportConcurrency),
      EXPORT_IDLE_TIMEOUT_SECONDS: String(t.config.exportIdleTimeoutMs / 1000),
      EXPORT_MIN_KB_PER_SECOND: String(t.config.exportMinBytesPerSecond / 1024),
    });
    const secret = resolveAuthSecret({ authSecret, dataDir: t.config.dataDir, production: false });
    const tokens = {} as TestApp['tokens'];
    for (const role of ALL_ROLES)
      tokens[role] = await signToken(secret, `test-${role.toLowerCase()}`, [role], undefined, t.config.tokenMaxLifetimeSeconds);
    target = { url: server.url, tokens };
    stop = () => stopProcess(server.child);
  }, 60_000);
  afterAll(() => stop());

  /** The attacked server's pool is whole: nothing busy and nobody waiting (its /metrics), within 10 s. */
  async function expectTargetPoolWhole() {
    if (embedded) return expectPoolWhole();
    const gauge = async () => {
      const text = await (await fetch(`${target.url}/metrics`)).text();
      const of = (state: string) => Number(new RegExp(`^db_pool_connections\\{state="${state}"\\} (\\d+)`, 'm').exec(text)?.[1]);
      return { busy: of('busy'), waiting: of('waiting') };
    };
    const deadline = Date.now() + 10_000;
    let seen = await gauge();
    while ((seen.busy > 0 || seen.waiting > 0) && Date.now() < deadline) {
      await sleep(100);
      seen = await gauge();
    }
    expect(seen).toEqual({ busy: 0, waiting: 0 });
  }

  for (const { item, name, serverOnly } of HOSTILE_ITEMS) {
    const run = serverOnly && embedded ? it.skip : it;
    run(
      `item ${item}: ${name}${serverOnly ? ' (server only: the embedded database has one connection)' : ''}`,
      async () => {
        const attack = hostileCases(target, { datasetId, exportBytes, exportBudget: t.config.exportConcurrency }).find(
          (c) => c.item === item,
        )!;
        // On Citus every statement also crosses the coordinator and two workers, which share this machine's 2 cores
        // with the server and this test: while whole exports stream (items 1 and 2) the three PostgreSQL processes keep
        // both cores busy and the server's timers wait for a core (event-loop p99 217-298 ms, /healthz 282-311 ms, in
        // two runs on one machine; 645 ms and 968 ms for item 1 on a machine half as fast; 17-45 ms for the other
        // items). The issue's bounds hold on one PostgreSQL, where the server has a core.
        const bounds = onCitus ? { ordinaryP99: 3000, healthP99: 1500, eventLoopP99: 1000 } : OTHERS_BOUNDS;
        // Sustained (a refusal takes milliseconds): the percentiles then describe the attack, not one pause. A window
        // whose latencies miss a bound is measured once more (both printed): on 2 shared cores one descheduling of the
        // server can decide a p99 of a few hundred samples; a server that stalls under the attack misses both.
        for (let attempt = 1; ; attempt++) {
          const seen = await whileOthersWatch(target, async () => {
            const statuses: number[] = [];
            const started = Date.now();
            do statuses.push(...(await attack.send()));
            while (Date.now() - started < 3000);
            return statuses;
          });
          process.stdout.write(
            `hostile item ${item} (${name})${attempt > 1 ? `, attempt ${attempt}` : ''}: statuses ${[...new Set(seen.result)].join(',')}; ordinary p99 ${seen.ordinary.p99} ms over ${seen.ordinary.count}, ` +
              `/healthz p99 ${seen.health.p99} ms, event-loop delay p99 ${seen.eventLoopP99.toFixed(1)} ms (${DATABASE_KIND}${embedded ? ', in-process' : ', server process'})\n`,
          );
          expect(seen.result.length).toBeGreaterThan(0);
          expect(seen.result.filter((s) => s >= 500)).toEqual([]);
          if (attack.refused) expect(seen.result.filter((s) => s < 400)).toEqual([]);
          expect(seen.ordinary.failures).toEqual([]);
          expect(seen.health.failures).toEqual([]);
          if (embedded) break;
          const within =
            seen.ordinary.p99 < bounds.ordinaryP99 && seen.health.p99 < bounds.healthP99 && seen.eventLoopP99 < bounds.eventLoopP99;
          if (within || attempt === 2) {
            expect(seen.ordinary.p99).toBeLessThan(bounds.ordinaryP99);
            expect(seen.health.p99).toBeLessThan(bounds.healthP99);
            expect(seen.eventLoopP99).toBeLessThan(bounds.eventLoopP99);
            break;
          }
          await expectTargetPoolWhole();
        }
        await expectTargetPoolWhole();
      },
      120_000,
    );
  }
});
