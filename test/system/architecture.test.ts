/**
 * The house rules of issue 17, checked by the tools that keep them: ESLint with eslint.config.mjs (a module is imported
 * only through its entry, SQL only in stores) and a scan of the stores (every table has one writer). Each rule is first
 * shown to catch a deliberate violation in a small source tree laid out like src/, then run over the real one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ESLint } from 'eslint';
import { FACT_TABLES } from '../../src/db/citus';

const root = path.resolve(__dirname, '../..');
const HOUSE_RULES = ['house/module-boundaries', 'house/sql-outside-stores'];

/** ESLint as `npm run lint` configures it, run in `cwd` (the config's globs are read against it). */
function eslint(cwd: string): ESLint {
  return new ESLint({ cwd, overrideConfigFile: path.join(root, 'eslint.config.mjs') });
}

/** "file:line rule" for each message, paths relative to `cwd`; only the house rules unless `all`. */
async function violations(cwd: string, patterns: string[], all = false): Promise<string[]> {
  const results = await eslint(cwd).lintFiles(patterns);
  return results.flatMap((r) =>
    r.messages
      .filter((m) => all || HOUSE_RULES.includes(m.ruleId ?? ''))
      .map((m) => `${path.relative(cwd, r.filePath)}:${m.line} ${m.ruleId ?? m.message}`),
  );
}

/** Tables created by the migrations (the schema's list of tables). */
function migrationTables(dir: string): Set<string> {
  const tables = new Set<string>();
  for (const f of fs.readdirSync(path.join(dir, 'migrations')).filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(dir, 'migrations', f), 'utf8');
    for (const m of text.matchAll(/\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)/g)) tables.add(m[1]);
  }
  return tables;
}

/** The store files under src/modules (any depth), relative to `dir`. */
function storeFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(rel, e.name));
      else if (e.name.endsWith('.store.ts')) out.push(path.join(rel, e.name));
    }
  };
  if (fs.existsSync(path.join(dir, 'src/modules'))) walk('src/modules');
  return out.sort();
}

/**
 * For each table of the migrations, the store files that write it: INSERT INTO, UPDATE, DELETE FROM, COPY … FROM,
 * TRUNCATE, MERGE INTO, and PARTITION OF (a store that creates a table's partitions writes that table through them).
 * SQL keywords are capitals in this codebase, so prose ("update the users") in comments does not count.
 */
function tableWriters(dir: string): Map<string, string[]> {
  const tables = migrationTables(dir);
  const writers = new Map<string, string[]>([...tables].map((t) => [t, []]));
  const WRITE =
    /\b(?:INSERT\s+INTO|UPDATE(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?|COPY|TRUNCATE(?:\s+TABLE)?(?:\s+ONLY)?|MERGE\s+INTO|PARTITION\s+OF)\s+"?([a-z_][a-z0-9_]*)/g;
  for (const file of storeFiles(dir)) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const table of new Set([...text.matchAll(WRITE)].map((m) => m[1]).filter((t) => tables.has(t)))) writers.get(table)!.push(file);
  }
  return writers;
}

/** "table: store, store" for each table written by more than one store. */
function sharedTables(dir: string): string[] {
  return [...tableWriters(dir)].filter(([, files]) => files.length > 1).map(([t, files]) => `${t}: ${files.join(', ')}`);
}

/**
 * The modules each module imports (values and types alike: `from '…'` and `import('…')`, resolved against the file), as
 * "module -> module" pairs.
 */
function moduleImports(dir: string): Map<string, Set<string>> {
  const base = path.join(dir, 'src/modules');
  const graph = new Map<string, Set<string>>();
  if (!fs.existsSync(base)) return graph;
  const walk = (module: string, abs: string) => {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const file = path.join(abs, e.name);
      if (e.isDirectory()) walk(module, file);
      else if (e.name.endsWith('.ts'))
        for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']*)'/g)) {
          const target = path.relative(base, path.resolve(path.dirname(file), m[1])).split(path.sep)[0];
          if (target && target !== module && !target.startsWith('..')) graph.get(module)!.add(target);
        }
    }
  };
  for (const e of fs.readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    graph.set(e.name, new Set());
    walk(e.name, path.join(base, e.name));
  }
  return graph;
}

/** Each cycle between modules, as "a -> b -> a" (a depth-first search; each cycle once, from its first module). */
function moduleCycles(dir: string): string[] {
  const graph = moduleImports(dir);
  const cycles = new Set<string>();
  const visit = (node: string, trail: string[]) => {
    for (const next of graph.get(node) ?? []) {
      const at = trail.indexOf(next);
      if (at >= 0) {
        const cycle = trail.slice(at);
        const first = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
        cycles.add([...rotated, rotated[0]].join(' -> '));
      } else visit(next, [...trail, next]);
    }
  };
  for (const m of graph.keys()) visit(m, [m]);
  return [...cycles].sort();
}

/** The statements that write a table (as tableWriters reads them), for one piece of source. */
const WRITES =
  /\b(?:INSERT\s+INTO|UPDATE(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?|COPY|TRUNCATE(?:\s+TABLE)?(?:\s+ONLY)?|MERGE\s+INTO|PARTITION\s+OF)\s+"?([a-z_][a-z0-9_]*)/g;

/**
 * "store:function" for each top-level function of a store that writes a fact table (`facts`) without calling
 * assertFactSession: a fact written outside a fact session would escape the knowledge ordering (src/db/citus.ts).
 */
function unguardedFactWriters(dir: string, facts: readonly string[]): string[] {
  const out: string[] = [];
  for (const file of storeFiles(dir)) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    // Top-level declarations start at the first column; each piece runs to the next one.
    const starts = [...text.matchAll(/^(?:export\s+)?(?:async\s+)?(?:function\*?|const|let)\s+(\w+)/gm)];
    starts.forEach((m, i) => {
      const piece = text.slice(m.index, starts[i + 1]?.index ?? text.length);
      const writes = [...piece.matchAll(WRITES)].some((w) => facts.includes(w[1]));
      if (writes && !/\bassertFactSession\(/.test(piece)) out.push(`${file}:${m[1]}`);
    });
  }
  return out;
}

/** Writes `files` (path → text) under a new temporary directory and returns it. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-architecture-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

// A small application laid out like src/: two modules with an entry and a store each, a service per module, the
// composition outside them. `compliant` keeps every rule; each violation below breaks exactly one.
const migration = `export class Core {
  async up(q: { query(sql: string): Promise<unknown> }): Promise<void> {
    await q.query(\`CREATE TABLE users (id uuid PRIMARY KEY, handle text)\`);
    await q.query(\`CREATE TABLE content_items (id uuid PRIMARY KEY, author_id uuid, text text)\`);
  }
}
`;
const compliant: Record<string, string> = {
  'migrations/1-Core.ts': migration,
  'src/context.ts': `export interface Manager {
  query(sql: string, params?: unknown[]): Promise<any[]>;
}
export interface Ctx {
  manager: Manager;
}
`,
  'src/modules/users/index.ts': `export { UserService } from './user.service';
export type { User } from './user.types';
`,
  'src/modules/users/user.types.ts': `export interface User {
  id: string;
  handle: string;
}
`,
  'src/modules/users/user.store.ts': `import type { Ctx } from '../../context';
import type { User } from './user.types';

export const USER_COLUMNS = 'u.id, u.handle';

export async function userById(ctx: Ctx, id: string): Promise<User | undefined> {
  return (await ctx.manager.query(\`SELECT \${USER_COLUMNS} FROM users u WHERE u.id = $1::uuid\`, [id]))[0];
}

export async function renameUser(ctx: Ctx, id: string, handle: string): Promise<void> {
  await ctx.manager.query('UPDATE users SET handle = $2 WHERE id = $1', [id, handle]);
}
`,
  'src/modules/users/user.service.ts': `import type { Ctx } from '../../context';
import { renameUser, userById } from './user.store';
import type { User } from './user.types';

export class UserService {
  async byId(ctx: Ctx, id: string): Promise<User | undefined> {
    return userById(ctx, id);
  }

  async rename(ctx: Ctx, id: string, handle: string): Promise<void> {
    // Prose and GraphQL are not SQL: "Select a user, then update or delete from the list".
    if (!handle) throw new Error('Select a handle: update it or delete from the list where it is shown');
    await renameUser(ctx, id, handle);
  }
}
`,
  'src/modules/content/index.ts': `export { ContentService } from './content.service';
`,
  'src/modules/content/content.store.ts': `import type { Ctx } from '../../context';

export async function clearText(ctx: Ctx, authorId: string): Promise<void> {
  await ctx.manager.query(\`UPDATE content_items SET text = NULL WHERE author_id = $1\`, [authorId]);
}
`,
  'src/modules/content/content.service.ts': `import type { Ctx } from '../../context';
import { type User, UserService } from '../users';
import { clearText } from './content.store';

export const USERS_DOCUMENT = \`query Users($first: Int) { users(first: $first) { nodes { id handle } } }\`;
// Enum values named like SQL keywords are not SQL either.
export const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'COPY', 'TRUNCATE', 'SELECT'] as const;

export class ContentService {
  constructor(private readonly users: UserService) {}

  async erase(ctx: Ctx, id: string): Promise<User | undefined> {
    const user = await this.users.byId(ctx, id);
    if (user) await clearText(ctx, user.id);
    return user;
  }
}
`,
  'src/server.ts': `import { ContentService } from './modules/content';
import { UserService } from './modules/users';

export const services = { content: new ContentService(new UserService()) };
`,
};

describe('architecture: the house rules', () => {
  const dirs: string[] = [];
  const fixture = (changes: Record<string, string> = {}) => {
    const dir = tree({ ...compliant, ...changes });
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('a compliant tree passes every lint rule and has one writer per table', async () => {
    const dir = fixture();
    expect(await violations(dir, ['src', 'migrations'], true)).toEqual([]);
    expect(sharedTables(dir)).toEqual([]);
    expect(Object.fromEntries(tableWriters(dir))).toEqual({
      users: ['src/modules/users/user.store.ts'],
      content_items: ['src/modules/content/content.store.ts'],
    });
  });

  it('refuses an import across modules other than through the entry (values and types alike)', async () => {
    const dir = fixture({
      'src/modules/content/content.service.ts': compliant['src/modules/content/content.service.ts'].replace(
        `import { type User, UserService } from '../users';`,
        `import { UserService } from '../users/user.service';\nimport type { User } from '../users/user.types';`,
      ),
      'src/server.ts': compliant['src/server.ts'].replace(`'./modules/users'`, `'./modules/users/user.service'`),
    });
    expect(await violations(dir, ['src'])).toEqual([
      'src/modules/content/content.service.ts:2 house/module-boundaries',
      'src/modules/content/content.service.ts:3 house/module-boundaries',
      'src/server.ts:2 house/module-boundaries',
    ]);
  });

  it("refuses a module importing the application's composition", async () => {
    const dir = fixture({
      'src/modules/users/user.service.ts': `import '../../server';\n${compliant['src/modules/users/user.service.ts']}`,
    });
    expect(await violations(dir, ['src'])).toEqual(['src/modules/users/user.service.ts:1 house/module-boundaries']);
  });

  it('refuses SQL in a service, as a statement, a fragment or a query() call', async () => {
    const dir = fixture({
      'src/modules/content/content.service.ts': `${compliant['src/modules/content/content.service.ts']}
export const OWN_COLUMNS = 'c.id, c.author_id AS "authorId"';

export async function count(ctx: Ctx): Promise<number> {
  return (await ctx.manager.query(\`SELECT count(*)::int AS n FROM content_items\`))[0].n;
}
`,
    });
    expect(await violations(dir, ['src'])).toEqual([
      'src/modules/content/content.service.ts:19 house/sql-outside-stores', // the column list
      'src/modules/content/content.service.ts:22 house/sql-outside-stores', // manager.query(
      'src/modules/content/content.service.ts:22 house/sql-outside-stores', // the statement
    ]);
  });

  it('reports a table written by two stores', () => {
    const dir = fixture({
      'src/modules/users/user.store.ts': `${compliant['src/modules/users/user.store.ts']}
export async function eraseTexts(ctx: Ctx, id: string): Promise<void> {
  await ctx.manager.query('UPDATE content_items SET text = NULL WHERE author_id = $1', [id]);
}
`,
    });
    expect(sharedTables(dir)).toEqual(['content_items: src/modules/content/content.store.ts, src/modules/users/user.store.ts']);
  });

  it('reports a cycle between modules, even through a type import', () => {
    const dir = fixture({
      'src/modules/users/user.types.ts': `import type { ContentService } from '../content';

export interface User {
  id: string;
  handle: string;
  content?: ContentService;
}
`,
    });
    expect(moduleCycles(dir)).toEqual(['content -> users -> content']);
    expect(moduleCycles(fixture())).toEqual([]);
  });

  it('reports a store function that writes a fact table without asserting the fact session', () => {
    const guarded = `import { assertFactSession } from '../../db/citus';
${compliant['src/modules/users/user.store.ts'].replace(
  "  await ctx.manager.query('UPDATE users",
  "  assertFactSession(ctx.manager as never);\n  await ctx.manager.query('UPDATE users",
)}`;
    expect(unguardedFactWriters(fixture({ 'src/modules/users/user.store.ts': guarded }), ['users'])).toEqual([]);
    expect(unguardedFactWriters(fixture(), ['users'])).toEqual(['src/modules/users/user.store.ts:renameUser']);
  });

  // The real tree: these hold once every module has its store and its entry (issue 17).
  it('src/ imports modules only through their entries and keeps SQL in stores', async () => {
    expect(await violations(root, ['src'])).toEqual([]);
  });

  it('no table of the migrations is written by more than one store', () => {
    expect(sharedTables(root)).toEqual([]);
  });

  it('no two modules import each other, directly or through others', () => {
    expect(moduleCycles(root)).toEqual([]);
  });

  it('every store function that writes a fact table asserts the fact session first', () => {
    expect(unguardedFactWriters(root, FACT_TABLES)).toEqual([]);
  });

  it('every table of the migrations is written by a store', () => {
    expect([...tableWriters(root)].filter(([, files]) => files.length === 0).map(([t]) => t)).toEqual([]);
  });
});
