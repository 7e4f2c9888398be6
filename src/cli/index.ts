#!/usr/bin/env node
import 'reflect-metadata';
import os from 'node:os';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config';
import type { Database } from '../db/data-source';
import { EmbeddedBusyError } from '../db/embedded-lock';
import { ALL_ROLES, resolveAuthSecret, Role, signToken, TokenSigningError } from '../common/tokens';
import type { RequestContext } from '../context';
import { createProgress } from './progress';

/**
 * The ORM, the services and GraphQL take seconds to load: only commands that open the database load them, so that
 * `token` and `--help` answer at once.
 */
const load = async () => ({
  pino: (await import('pino')).default,
  ...(await import('../db/data-source')),
  ...(await import('../db/citus')),
  ...(await import('../context')),
  ...(await import('../services')),
  ...(await import('../modules/audit')),
  ...(await import('../modules/datasets')),
  ...(await import('../modules/seed')),
  ...(await import('./objections-import')),
});

/**
 * Exit codes: 0 done, 1 the work was refused or failed (bad rows, broken chain), 2 usage or configuration error, 3 the
 * embedded database is open in another process (the server): nothing was done.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, BUSY: 3 } as const;

/** The command being run, named to another process that finds the embedded database held (see embedded-lock.ts). */
let commandName = 'aidg';

/** Opens the configured database for this command. */
const open = async (options: { runMigrations?: boolean } = {}) =>
  (await load()).openDatabase(loadConfig(), { ...options, role: commandName });

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

/** Opens the configured database and a context acting as `actor` with `roles`. */
async function withContext<T>(actor: string, roles: Role[], fn: (ctx: RequestContext, db: Database) => Promise<T>): Promise<T> {
  // Operator-driven bulk work: no statement timeout, builds and imports included.
  const config = { ...loadConfig(), buildStatementTimeoutMs: 0 };
  const { createContext, createServices, pino, openDatabase } = await load();
  const db = await openDatabase(config, { role: commandName });
  try {
    const ctx = createContext(
      { dataSource: db.dataSource, services: createServices(), config, log: pino({ level: 'silent' }) },
      { subject: actor, roles },
    );
    return await fn(ctx, db);
  } finally {
    await db.close();
  }
}

/** A file the command can read, or a usage error (exit 2) that says why. */
function readableFile(file: string): void {
  try {
    if (!fs.statSync(file).isFile()) throw new InvalidArgumentError(`cannot read ${file}: not a file`);
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new InvalidArgumentError(`cannot read ${file}: ${why}`);
  }
}

const defaultActor = () => `cli:${os.userInfo().username}`;

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('aidg')
    .description(
      'Operator tools for the AI training-data governance service. Uses DATABASE_URL, or the embedded database in DATA_DIR (one process at a time: while the server runs on it, commands that open it exit 3).',
    )
    .showHelpAfterError()
    .exitOverride()
    .hook('preAction', (_program, action) => {
      const names: string[] = [];
      for (let c: Command | null = action; c; c = c.parent) names.unshift(c.name());
      commandName = names.join(' ');
    });

  program
    .command('token')
    .description('Print a bearer token (and nothing else on stdout).')
    .requiredOption('-r, --role <roles>', `comma-separated roles: ${ALL_ROLES.join(', ')}`)
    .requiredOption('-s, --subject <subject>', 'who the token is for')
    .option('--expires <duration>', 'lifetime, e.g. 12h, 30m (default and longest: TOKEN_MAX_LIFETIME, 12h unless configured)')
    .action(async (opts: { role: string; subject: string; expires?: string }) => {
      const roles = opts.role.split(',').map((r) => r.trim().toUpperCase()) as Role[];
      const unknown = roles.filter((r) => !ALL_ROLES.includes(r));
      if (unknown.length) throw new InvalidArgumentError(`unknown role ${unknown.join(', ')}; roles are ${ALL_ROLES.join(', ')}`);
      const config = loadConfig();
      let token: string;
      try {
        token = await signToken(resolveAuthSecret(config), opts.subject, roles, opts.expires, config.tokenMaxLifetimeSeconds);
      } catch (err) {
        // jose throws a TypeError on a duration it cannot read.
        if (err instanceof TokenSigningError || err instanceof TypeError) throw new InvalidArgumentError(err.message);
        throw err;
      }
      process.stdout.write(`${token}\n`);
      process.stderr.write(
        `token: signed for ${opts.subject} with ${roles.join(', ')}, expires in ${opts.expires ?? `${config.tokenMaxLifetimeSeconds}s`}\n`,
      );
    });

  program
    .command('seed')
    .description('Write a deterministic synthetic data set straight into PostgreSQL (set-based SQL, one transaction).')
    .option('--users <n>', 'people', int('--users'), 1000)
    .option('--items <n>', 'content items', int('--items'), 10000)
    .option('--objections <n>', 'objections (about a fifth are later withdrawn)', int('--objections'), 500)
    .option('--seed <n>', 'seed: the same seed gives the same rows', int('--seed'), 1)
    .option('--prefix <prefix>', 'prefix of external ids (default syn<seed>-)')
    .option('--profile <profile>', 'mixed (realistic) or clean (every item eligible, language zzc)', 'mixed')
    .option('--actor <subject>', 'subject recorded in the audit log', defaultActor())
    .action(
      async (opts: { users: number; items: number; objections: number; seed: number; prefix?: string; profile: string; actor: string }) => {
        if (!['mixed', 'clean'].includes(opts.profile)) throw new InvalidArgumentError('--profile must be mixed or clean');
        const started = Date.now();
        const { runAudited, writeSynthetic } = await load();
        await withContext(opts.actor, [Role.INGEST_SERVICE], async (ctx) => {
          const progress = createProgress('seed', opts.users + opts.items + opts.objections, 'rows');
          await runAudited(ctx, 'syntheticSeed', opts, async (tx) => {
            await writeSynthetic(tx.manager, { ...opts, profile: opts.profile as 'mixed' | 'clean' }, (label, done) =>
              progress.update(done, label),
            );
            return { payload: undefined, targetIds: [] };
          });
          progress.stop();
        });
        process.stdout.write(
          `seed: wrote ${opts.users} users, ${opts.items} items, ${opts.objections} objections (seed ${opts.seed}) in ${((Date.now() - started) / 1000).toFixed(1)}s\n`,
        );
      },
    );

  const objections = program.command('objections').description('Consent-ledger bulk operations.');
  objections
    .command('import')
    .description(
      'Import objections from a CSV file (header: external_user_id,scope,effective_at,channel,reason), all or nothing, streamed.',
    )
    .argument('<file>', 'CSV file')
    .option('--reason <text>', 'reason for rows that give none (backdated rows need one)')
    .option('--actor <subject>', 'privacy officer recorded as the actor', defaultActor())
    .action(async (file: string, opts: { reason?: string; actor: string }) => {
      readableFile(file);
      const { importObjectionsCsv } = await load();
      const summary = await withContext(opts.actor, [Role.PRIVACY_OFFICER], (ctx) =>
        importObjectionsCsv(ctx, file, { reason: opts.reason }),
      );
      if (summary.errors.length) {
        for (const e of summary.errors) process.stderr.write(`error: ${e.field ? `${e.field}: ` : ''}${e.message} [${e.code}]\n`);
        process.stdout.write(
          `objections import: refused, ${summary.errors.length} error(s) in ${summary.rows} rows read; nothing was written\n`,
        );
        setExit(EXIT.FAILED);
      } else {
        process.stdout.write(
          `objections import: imported ${summary.imported} objections from ${file}, ${summary.alreadyInForce} already in force\n`,
        );
      }
    });

  const dataset = program.command('dataset').description('Training datasets.');
  dataset
    .command('export')
    .description('Write a dataset version as NDJSON (the same lines as GET /datasets/{id}/export.ndjson) and check its manifest digest.')
    .argument('<id>', 'dataset version id')
    .requiredOption('-o, --out <file>', 'output file (- for stdout)')
    .option('--actor <subject>', 'subject recorded as the exporter', defaultActor())
    .action(async (id: string, opts: { out: string; actor: string }) => {
      // An operator with the database's credentials, not an ML engineer: AUDITOR sees every dataset (ML isolation would
      // confine a token carrying ML_ENGINEER to the actor's own).
      const { exportStream } = await load();
      const result = await withContext(opts.actor, [Role.AUDITOR], async (ctx) => {
        const ds = await ctx.services.datasets.exportable(ctx, id);
        const runner = ctx.dataSource.createQueryRunner();
        try {
          const client = await runner.connect();
          const hash = crypto.createHash('sha256');
          let lines = 0;
          let rest = '';
          const progress = createProgress('dataset export', ds.memberCount, 'rows');
          const out = opts.out === '-' ? process.stdout : fs.createWriteStream(opts.out);
          await pipeline(
            exportStream(client, ds.id, true),
            new Transform({
              transform(chunk, _enc, done) {
                // Recompute the manifest digest from the lines as they go out.
                const text = rest + String(chunk);
                const parts = text.split('\n');
                rest = parts.pop() ?? '';
                for (const line of parts) {
                  const row = JSON.parse(line);
                  hash.update(`${row.id}\t${row.contentHash}\n`);
                  if (++lines % 10000 === 0) progress.update(lines);
                }
                done(null, chunk);
              },
            }),
            out,
          );
          progress.update(lines);
          progress.stop();
          return { ds, lines, digest: hash.digest('hex') };
        } finally {
          await runner.release();
        }
      });
      const matches = result.digest === result.ds.manifestDigest;
      (opts.out === '-' ? process.stderr : process.stdout).write(
        `dataset export: ${result.lines} members of ${result.ds.name} v${result.ds.version} to ${opts.out}; digest ${result.digest} ${matches ? 'matches' : 'DOES NOT MATCH'} the manifest\n`,
      );
      if (!matches) setExit(EXIT.FAILED);
    });

  const describe = (d: {
    id: string;
    name: string;
    version: number;
    memberCount: number;
    candidateCount: number;
    manifestDigest: string;
  }) => `${d.id} ${d.name} v${d.version}, ${d.memberCount} members of ${d.candidateCount} candidates, digest ${d.manifestDigest}`;

  dataset
    .command('list')
    .description("List dataset versions, newest first (every engineer's: an operator tool, run as AUDITOR).")
    .option('--name <name>', 'only this name')
    .option('--status <status>', 'ACTIVE or SUPERSEDED')
    .option('--first <n>', 'at most this many', int('--first'), 50)
    .option('--after <cursor>', 'continue after this cursor (printed when there are more)')
    .action(async (opts: { name?: string; status?: string; first: number; after?: string }) => {
      if (opts.status && !['ACTIVE', 'SUPERSEDED'].includes(opts.status.toUpperCase()))
        throw new InvalidArgumentError('--status must be ACTIVE or SUPERSEDED');
      const filter = { name: opts.name, status: opts.status?.toUpperCase() as never };
      const page = await withContext(defaultActor(), [Role.AUDITOR], (ctx) =>
        ctx.services.datasets.list(ctx, filter, opts.first, opts.after),
      );
      for (const { node: d } of page.edges) {
        process.stdout.write(
          `${[d.id, d.name, `v${d.version}`, d.status, d.memberCount, d.requestedBy, d.createdAt.toISOString()].join('\t')}\n`,
        );
      }
      const more = page.pageInfo.hasNextPage ? `; more with --after ${page.pageInfo.endCursor}` : '';
      process.stderr.write(`dataset list: ${page.edges.length} version(s)${more}\n`);
    });

  dataset
    .command('request')
    .description(
      'Build a dataset version from the content eligible now under the latest ENFORCE version of the policy (as datasetRequest; the actor is the requesting ML engineer).',
    )
    .requiredOption('--name <name>', 'dataset name; an existing name gets the next version')
    .option('--policy <key>', 'policy key', 'eu-ai-training')
    .option('--purpose <text>', 'what it is for')
    .option('--sample-rate <rate>', 'keep a deterministic sample: fraction 0 < rate <= 1', parseFloat)
    .option('--sample-seed <n>', 'seed of the sample', int('--sample-seed'), 0)
    .option('--cap <n>', 'at most this many members', int('--cap'))
    .option('--actor <subject>', 'ML engineer recorded as the requester (only they see and remediate it)', defaultActor())
    .action(
      async (opts: {
        name: string;
        policy: string;
        purpose?: string;
        sampleRate?: number;
        sampleSeed: number;
        cap?: number;
        actor: string;
      }) => {
        const input = {
          name: opts.name,
          policyKey: opts.policy,
          purpose: opts.purpose,
          cap: opts.cap,
          sample: opts.sampleRate == null ? undefined : { rate: opts.sampleRate, seed: opts.sampleSeed },
        };
        const { runAudited } = await load();
        const payload = await withContext(opts.actor, [Role.ML_ENGINEER], (ctx) =>
          runAudited(ctx, 'datasetRequest', input, (tx) => tx.services.datasets.request(tx, input)),
        );
        process.stdout.write(`dataset request: ${describe(payload.dataset!)}\n`);
      },
    );

  dataset
    .command('remediate')
    .description(
      'Build the next version of a tainted dataset without the members ineligible now; the old one becomes SUPERSEDED (as datasetRemediate).',
    )
    .argument('<id>', 'dataset version id')
    .option('--actor <subject>', 'the ML engineer who requested the dataset (ML engineers see only their own)', defaultActor())
    .action(async (id: string, opts: { actor: string }) => {
      const { runAudited } = await load();
      const input = { datasetId: id };
      const payload = await withContext(opts.actor, [Role.ML_ENGINEER], (ctx) =>
        runAudited(ctx, 'datasetRemediate', input, (tx) => tx.services.datasets.remediate(tx, input)),
      );
      process.stdout.write(`dataset remediate: ${describe(payload.dataset!)}; ${id} is superseded\n`);
    });

  const db = program.command('db').description('Database schema.');
  db.command('migrate')
    .description('Apply pending migrations and exit (the server also applies them when it starts).')
    .action(async () => {
      const database = await open({ runMigrations: false });
      try {
        const applied = await database.dataSource.runMigrations();
        process.stdout.write(`db migrate: ${applied.length ? `applied ${applied.map((m) => m.name).join(', ')}` : 'up to date'}\n`);
      } finally {
        await database.close();
      }
    });
  db.command('citus-check')
    .description(
      `Check the schema against Citus's rules for the layout in deploy/citus/distribute.sql, and on a Citus coordinator the tables' actual layout against it; exit 1 on any violation.`,
    )
    .option('--rules-only', 'check the schema against the rules only, not the layout (before the tables are distributed)')
    .action(async (opts: { rulesOnly?: boolean }) => {
      const { citusLayoutViolations, citusPlanPath, citusViolations, parseCitusPlan } = await load();
      const database = await open({ runMigrations: false });
      try {
        const plan = parseCitusPlan(fs.readFileSync(citusPlanPath(), 'utf8'));
        const layout = opts.rulesOnly ? null : await citusLayoutViolations(database.dataSource.manager, plan);
        const problems = [...(await citusViolations(database.dataSource.manager, plan)), ...(layout ?? [])];
        for (const p of problems) process.stderr.write(`violation: ${p}\n`);
        const ok = layout === null ? 'the schema can be distributed as planned' : 'the tables are laid out as planned';
        process.stdout.write(`db citus-check: ${problems.length ? `${problems.length} violation(s)` : ok}\n`);
        if (problems.length) setExit(EXIT.FAILED);
      } finally {
        await database.close();
      }
    });

  const audit = program.command('audit').description('Audit log.');
  audit
    .command('verify')
    .description(
      'Recompute the hash chain of the audit log, check it against the latest signed checkpoint and the consent ledger against it; exit 1 when anything does not match.',
    )
    .action(async () => {
      const result = await withContext(defaultActor(), [Role.AUDITOR], async (ctx) => {
        const progress = createProgress('audit verify', await ctx.services.audit.eventCount(ctx), 'events');
        try {
          return await ctx.services.audit.verifyChain(ctx, (checked) => progress.update(checked));
        } finally {
          progress.stop();
        }
      });
      if (result.valid) process.stdout.write(`audit verify: valid, ${result.checkedEvents} events checked\n`);
      else {
        const at = result.firstBrokenEventId ? ` at event ${result.firstBrokenEventId}` : '';
        process.stdout.write(`audit verify: BROKEN${at} (${result.checkedEvents} events checked)\n`);
        for (const p of result.problems) process.stderr.write(`problem: ${p}\n`);
        for (const id of result.unboundLedgerEventIds) process.stderr.write(`problem: consent event ${id} is bound to no audit event\n`);
        setExit(EXIT.FAILED);
      }
      const c = result.checkpoint;
      process.stdout.write(
        c
          ? `audit verify: latest checkpoint covers ${c.eventCount} events up to event ${c.lastEventId}, signed ${c.signedAt} by key ${c.keyId}; ${result.eventsAfterCheckpoint} events after it\n`
          : 'audit verify: no signed checkpoint yet (run `aidg audit checkpoint`)\n',
      );
      process.stdout.write(`audit verify: ${result.checkedLedgerEvents} consent ledger rows checked\n`);
    });
  audit
    .command('checkpoint')
    .description(
      "Sign a checkpoint of the audit chain's head (after checking every event since the last one) and store it in the database and in AUDIT_CHECKPOINT_DIR.",
    )
    .action(async () => {
      const outcome = await withContext(defaultActor(), [Role.AUDITOR], (ctx) => ctx.services.audit.checkpoint(ctx));
      const c = outcome.checkpoint;
      if (!c) process.stdout.write('audit checkpoint: the audit log is empty, nothing to sign\n');
      else if (!outcome.created)
        process.stdout.write(`audit checkpoint: up to date, event ${c.lastEventId} (${c.eventCount} events) is already signed\n`);
      else
        process.stdout.write(
          `audit checkpoint: signed event ${c.lastEventId} (${c.eventCount} events) with key ${c.keyId}; stored in the database and ${outcome.file}\n`,
        );
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.USAGE;
    }
    // Commander has already printed its own usage errors and help.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (err instanceof EmbeddedBusyError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.BUSY;
    }
    // A refusal, as the error boundary describes it (src/common/error-boundary.ts): the work was refused, exit 1.
    const problem = (await import('../common/error-boundary')).problemOf(err);
    if (problem) {
      process.stderr.write(`error: ${problem.message} [${problem.code}]\n`);
      for (const d of problem.details.length > 1 ? problem.details : [])
        process.stderr.write(`  ${d.field ? `${d.field}: ` : ''}${d.message} [${d.code}]\n`);
      return EXIT.FAILED;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.FAILED;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
