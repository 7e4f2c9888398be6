import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { freshDatabaseConfig, MAIN_JS, serverEnv } from '../helpers';

/** The npm scripts a newcomer runs first: fast when nothing changed, and saying what they do. */
const ROOT = path.resolve(__dirname, '..', '..');

let fresh: Awaited<ReturnType<typeof freshDatabaseConfig>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  fresh = await freshDatabaseConfig();
  env = serverEnv(fresh, { AUTH_SECRET: '' });
});
afterAll(async () => fresh?.drop());

const npm = (args: string[]) => {
  const started = Date.now();
  const r = spawnSync('npm', args, { cwd: ROOT, env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
};

describe('npm scripts', () => {
  it('npm run token prints only a token, without compiling when nothing changed', () => {
    // The first run compiles if the sources changed since the last build; the second has nothing to compile.
    expect(npm(['run', 'token', '--', '--role', 'AUDITOR', '--subject', 'warm-up']).code).toBe(0);
    const r = npm(['run', 'token', '--', '--role', 'AUDITOR', '--subject', 'fast']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(r.stderr).not.toMatch(/compiling/);
    // Generous, for a busy CI machine: a recompilation takes 15 s and more; npm and node alone take about a second.
    expect(r.ms).toBeLessThan(10000);
  });

  it('a busy port gives one sentence with the fix, after saying what the server did', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-port-'));
      const r = spawnSync(process.execPath, [MAIN_JS], {
        env: { ...env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `^failed to start: port ${port} on 127.0.0.1 is in use .*: stop what listens there, or choose another port, e.g. PORT=${port + 1} npm start$`,
          'm',
        ),
      );
      expect(r.stderr + r.stdout).not.toMatch(/EADDRINUSE|\n\s+at /);
      expect(r.stdout).toMatch(fresh.config.databaseUrl ? /connecting to PostgreSQL/ : /opening the embedded database in /);
      expect(r.stdout).toMatch(/applied \d+ migration\(s\)|schema up to date/);
      // The embedded database was closed and its lock released.
      expect(fs.existsSync(path.join(dataDir, 'pgdata.lock'))).toBe(false);
    } finally {
      blocker.close();
    }
  });
});
