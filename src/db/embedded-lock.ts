import fs from 'node:fs';
import path from 'node:path';

/** Who holds the embedded database: written to DATA_DIR/pgdata.lock by the process that has it open. */
export interface LockHolder {
  pid: number;
  /** 'server' for `npm start`, otherwise the CLI command. */
  role: string;
  /** The HTTP port, once the server listens. */
  port?: number;
  /** The process's start time in clock ticks since boot (Linux), so that a reused pid is not taken for the holder. */
  procStart?: string;
  startedAt?: string;
}

/** The embedded database is open in another process: nothing was done. */
export class EmbeddedBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    const who =
      holder.role === 'server'
        ? `the server (pid ${holder.pid}${holder.port ? `, port ${holder.port}` : ''})`
        : `another process (pid ${holder.pid}: ${holder.role})`;
    super(
      `the embedded database in ${dataDir} is in use by ${who}; it has one writer, so nothing was done. ` +
        `To run this: stop it first (Ctrl-C in its terminal, or kill ${holder.pid}), ` +
        `or point DATABASE_URL at a PostgreSQL server, which any number of processes can share.`,
    );
  }
}

/** Clock ticks since boot at which `pid` started (field 22 of /proc/PID/stat), or undefined off Linux. */
function procStart(pid: number | 'self'): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isRunning(holder: LockHolder): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // The pid runs; after a reboot or a long time it may be another program's.
  const started = holder.procStart && procStart(holder.pid);
  return !started || started === holder.procStart;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Half-written or garbled: a process died while writing it.
    return { pid: 0, role: 'unknown' };
  }
}

export interface EmbeddedLock {
  /** Records facts about the holder (the server's port) for the message other processes get. */
  update(info: Partial<LockHolder>): void;
  release(): void;
}

/**
 * Takes DATA_DIR/pgdata.lock for this process, or throws EmbeddedBusyError naming the holder. A lock whose process no
 * longer runs (killed, crashed) is taken over.
 */
export function acquireEmbeddedLock(dataDir: string, role: string): EmbeddedLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'pgdata.lock');
  let holder: LockHolder = { pid: process.pid, role, procStart: procStart('self'), startedAt: new Date().toISOString() };
  // Written whole to a file of our own first, then linked into place: link fails if the lock exists, and a reader
  // never sees a half-written lock.
  const mine = `${file}.${process.pid}`;
  const writeMine = () => fs.writeFileSync(mine, JSON.stringify(holder));
  writeMine();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(mine, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
      }
      const current = readHolder(file);
      if (!current) continue;
      if (isRunning(current)) throw new EmbeddedBusyError(dataDir, current);
      // Stale: move it aside under a name of our own, then check that what we moved is what we judged (another
      // process may have taken over the stale lock in between; then it is theirs, and it goes back).
      const aside = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = readHolder(aside);
      if (moved && moved.pid !== current.pid) {
        fs.renameSync(aside, file);
        throw new EmbeddedBusyError(dataDir, moved);
      }
      fs.rmSync(aside, { force: true });
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return {
    update(info) {
      if (!held) return;
      holder = { ...holder, ...info };
      writeMine();
      fs.renameSync(mine, file);
    },
    release,
  };
}
