import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/**
 * Checks up front what `npm test` needs, with one clear message per missing thing, instead of failures deep in the
 * suite: Node 20.19+, the compiled service (tests run dist/ as child processes), the vendored OpenLineage schemas, and
 * the PostgreSQL in DATABASE_URL when it is set. Chromium is optional locally (the browser tests skip, and fail in CI).
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const problems: string[] = [];
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) problems.push(`Node 20.19 or later is needed, this is ${process.versions.node}`);
  if (!fs.existsSync(path.join(root, 'dist', 'src', 'main.js')) || !fs.existsSync(path.join(root, 'dist', 'src', 'cli', 'index.js'))) {
    problems.push('the compiled service is missing: run the tests with `npm test` (it compiles first) or run `npm run build`');
  }
  if (!fs.existsSync(path.join(root, 'vendor', 'openlineage', 'OpenLineage.json')))
    problems.push('vendor/openlineage/ is missing: the OpenLineage schemas are part of the checkout');
  const url = process.env.DATABASE_URL;
  let where = 'the embedded database (PGlite; set DATABASE_URL to use a PostgreSQL server)';
  if (url) {
    const u = new URL(url);
    where = `PostgreSQL at ${u.host}${u.pathname}`;
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      const [{ can }] = (await client.query(`SELECT rolcreatedb OR rolsuper AS can FROM pg_roles WHERE rolname = current_user`)).rows;
      if (!can)
        problems.push(`DATABASE_URL: the user may not create databases, and each test file creates its own: use a user with CREATEDB`);
    } catch (err) {
      problems.push(
        `DATABASE_URL (${where}) cannot be reached: ${(err as Error).message}. Start PostgreSQL, or unset DATABASE_URL to test on the embedded database`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  if (problems.length) throw new Error(`npm test cannot run:\n  - ${problems.join('\n  - ')}\n(see "Tests" in README.md)`);
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  process.stderr.write(
    `\nnpm test: on ${where}; Chromium ${fs.existsSync(chromium) ? `at ${chromium}` : `not found at ${chromium} (browser tests skipped; set CHROMIUM_PATH)`}\n`,
  );
}
