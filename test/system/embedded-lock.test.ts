import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, ChildProcess } from 'node:child_process';
import { CLI_JS as CLI, MAIN_JS as MAIN, startServerProcess, stopProcess } from '../helpers';

/**
 * The embedded database has one writer. A second process on the same DATA_DIR (the CLI, a second server) refuses at
 * once and says what to do; the running server is unharmed and restarts cleanly; a lock left by a killed process does
 * not block. Always on the embedded database, whatever DATABASE_URL the suite runs with.
 */
const BUSY = 3;

let dataDir: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-lock-'));
  env = {
    ...process.env,
    DATA_DIR: dataDir,
    DATABASE_URL: '',
    AUTH_SECRET: '',
    SEED_DEMO: 'false',
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'development',
  };
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const start = () => startServerProcess(env);
const stop = (child: ChildProcess) => stopProcess(child);
const cli = (args: string[]) => {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
};
const viewer = async (url: string) => {
  const token = cli(['token', '--role', 'AUDITOR', '--subject', 'lock-test']).stdout.trim();
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { subject } users(first: 1) { totalCount } }' }),
  });
  return ((await res.json()) as any).data;
};

describe('the embedded database and a second process', () => {
  it('refuses a CLI command and a second server while the server runs; the server keeps answering and restarts cleanly', async () => {
    const seeded = cli(['seed', '--users', '20', '--items', '50', '--objections', '0', '--prefix', 'lock-']);
    expect(seeded.code).toBe(0);
    const csv = path.join(dataDir, 'objections.csv');
    fs.writeFileSync(csv, 'external_user_id,scope,effective_at,channel,reason\nlock-u1,ALL_AI_TRAINING,,OBJECTION_FORM,paper\n');

    let server = await start();
    try {
      for (const args of [
        ['objections', 'import', csv],
        ['db', 'migrate'],
        ['audit', 'verify'],
      ]) {
        const r = cli(args);
        expect({ args, code: r.code }).toEqual({ args, code: BUSY });
        expect(r.stderr).toMatch(new RegExp(`in use by the server \\(pid ${server.child.pid}, port ${server.port}\\)`));
        expect(r.stderr).toMatch(/stop it first.*or point DATABASE_URL at a PostgreSQL server/s);
        expect(r.stdout).toBe('');
        expect(r.ms).toBeLessThan(10_000);
      }
      const second = spawnSync(process.execPath, [MAIN], { env, encoding: 'utf8', timeout: 60_000 });
      expect(second.status).toBe(BUSY);
      expect(second.stderr).toMatch(/in use by the server \(pid \d+/);
      expect(await viewer(server.url)).toEqual({ viewer: { subject: 'lock-test' }, users: { totalCount: 20 } });
    } finally {
      await stop(server.child);
    }
    expect(fs.existsSync(path.join(dataDir, 'pgdata.lock'))).toBe(false);

    server = await start();
    try {
      expect(await viewer(server.url)).toEqual({ viewer: { subject: 'lock-test' }, users: { totalCount: 20 } });
    } finally {
      await stop(server.child);
    }
    // Nothing of the refused import was written.
    const imported = cli(['objections', 'import', csv]);
    expect(imported.stdout).toMatch(/imported 1 objections/);
    expect(imported.code).toBe(0);
  });

  it('takes over a lock left by a process that no longer runs', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(path.join(dataDir, 'pgdata.lock'), JSON.stringify({ pid: Number(dead.stdout), role: 'server', port: 4000 }));
    const r = cli(['db', 'migrate']);
    expect(r.stdout).toMatch(/^db migrate: up to date$/m);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'pgdata.lock'))).toBe(false);
  });

  it('says why a damaged store cannot be opened and how to recover', () => {
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-broken-'));
    try {
      fs.mkdirSync(path.join(broken, 'pgdata'));
      fs.writeFileSync(path.join(broken, 'pgdata', 'PG_VERSION'), 'not a database\n');
      const r = spawnSync(process.execPath, [CLI, 'db', 'migrate'], {
        env: { ...env, DATA_DIR: broken },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/the embedded database in .*pgdata could not be opened/);
      expect(r.stderr).toMatch(/move .*pgdata aside/);
      expect(fs.existsSync(path.join(broken, 'pgdata.lock'))).toBe(false);
    } finally {
      fs.rmSync(broken, { recursive: true, force: true });
    }
  });
});
