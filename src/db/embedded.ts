import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { acquireEmbeddedLock, LockHolder } from './embedded-lock';

/** An embedded PostgreSQL (PGlite) persisted in a folder and served on a loopback port to the ordinary `pg` driver. */
export interface EmbeddedPostgres {
  url: string;
  /** Tells other processes that try to open the folder who holds it (the server's port). */
  announce(info: Partial<LockHolder>): void;
  stop(): Promise<void>;
}

/** The embedded database's files could not be opened: says why and how to recover. */
export class EmbeddedOpenError extends Error {
  constructor(dir: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `the embedded database in ${dir} could not be opened (${why}). No other process holds it, so its files are ` +
        `damaged or unreadable (a disk that filled up, a copy taken while it was open, a PGlite version that wrote ` +
        `another format). To recover: move ${dir} aside (mv ${dir} ${dir}.broken) and start again for a new, empty ` +
        `database (the demo data is loaded again; re-import your own data), or put a backup of the folder in its place.`,
    );
  }
}

/**
 * Opens (or creates) the embedded database under `dataDir/pgdata` and serves it on 127.0.0.1 on a free port. Holds
 * `dataDir/pgdata.lock` while open: a second process gets EmbeddedBusyError at once instead of a second writer on the
 * same files. `role` names this process in the message the other one gets.
 */
export async function startEmbeddedPostgres(dataDir: string, role = 'a command'): Promise<EmbeddedPostgres> {
  const dir = path.join(dataDir, 'pgdata');
  const lock = acquireEmbeddedLock(dataDir, role);
  let db: PGlite | undefined;
  let server: PGLiteSocketServer;
  try {
    fs.mkdirSync(dir, { recursive: true });
    try {
      db = await PGlite.create({ dataDir: dir });
      await db.waitReady;
    } catch (err) {
      throw new EmbeddedOpenError(dir, err);
    }
    // PGlite is a single connection: the socket server multiplexes clients onto it, so the application uses a pool of one.
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 });
    await server.start();
  } catch (err) {
    await db?.close().catch(() => undefined);
    lock.release();
    throw err;
  }
  const open = db;
  const url = `postgresql://postgres:postgres@${server.getServerConn()}/postgres?sslmode=disable`;
  let stopped = false;
  return {
    url,
    announce: lock.update,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.stop();
        await open.close();
      } finally {
        lock.release();
      }
    },
  };
}
