import path from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The tests' typed operation documents (test/generated/graphql.ts) are generated from schema.graphql and
 * test/operations/ by GraphQL Code Generator and committed: a change to either without `npm run codegen` fails here
 * (the generator's check mode regenerates in memory and compares; it needs no network).
 */
describe('generated operation documents', () => {
  it('are up to date with schema.graphql and test/operations/', () => {
    const bin = path.join(ROOT, 'node_modules', '.bin', 'graphql-codegen');
    const r = spawnSync(process.execPath, [bin, '--config', 'codegen.yml', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect({ status: r.status, output: r.status === 0 ? '' : `${r.stdout}${r.stderr}` }).toEqual({ status: 0, output: '' });
  });
});
