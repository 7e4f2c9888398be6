#!/usr/bin/env node
// Compiles the TypeScript (tsc -p .) only when a source changed since the last build: `npm start`, `npm run token` and
// `npm run cli` run this first, so that they start at once when nothing changed. `--force` always compiles
// (`npm run build`). Messages go to stderr: `npm run token` prints the token and nothing else on stdout.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const stamp = path.join(root, 'dist', '.build-stamp');
// What tsconfig.json compiles (src, migrations, bench; package.json is imported for the version), and the compiler's
// own configuration. Directories count too: a deleted or renamed file changes its directory's mtime.
const inputs = ['src', 'migrations', 'bench', 'tsconfig.json', 'package.json', 'package-lock.json'];

/** The files and folders under `p` modified after `since` (ms), at most `limit` of them. */
function changedSince(p, since, found = [], limit = 5) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return found;
  }
  if (st.mtimeMs > since && found.length < limit) found.push(path.relative(root, p) || '.');
  if (st.isDirectory())
    for (const name of fs.readdirSync(p)) if (found.length < limit) changedSince(path.join(p, name), since, found, limit);
  return found;
}

const force = process.argv.includes('--force');
let built = 0;
try {
  built = fs.statSync(stamp).mtimeMs;
} catch {}
const changed = force || !built ? [] : inputs.flatMap((i) => changedSince(path.join(root, i), built));
if (!force && built && changed.length === 0) process.exit(0);

const why = force
  ? ''
  : built
    ? ` (changed since the last build: ${changed.join(', ')}${changed.length >= 5 ? ', …' : ''})`
    : ' (first build)';
process.stderr.write(`compiling TypeScript${why}…\n`);
const started = Date.now();
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
// tsc reports errors on stdout: send them to stderr with the rest.
const r = spawnSync(process.execPath, [tsc, '-p', root], { cwd: root, stdio: ['ignore', 2, 2] });
if (r.status !== 0) {
  process.stderr.write('compiling TypeScript failed (see above)\n');
  process.exit(r.status ?? 1);
}
// The stamp takes the time the compilation started: a file saved while tsc ran is compiled again next time.
fs.mkdirSync(path.dirname(stamp), { recursive: true });
fs.writeFileSync(stamp, '');
fs.utimesSync(stamp, new Date(started), new Date(started));
process.stderr.write(`compiled in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
