import { spawn } from 'node:child_process';
import http from 'node:http';
import { Role } from '../../src/common/auth';
import type { Target } from '../helpers';

/**
 * The attacks of issue 13, one or more per item, as requests against a live server. Each case resolves to the HTTP
 * statuses its requests got (0: the client itself dropped the connection). `refused` cases must get a 4xx for every
 * request; the others (downloads that a client aborts or reads slowly) must merely get no 5xx. Bodies are built once,
 * when the cases are made, so that sending them costs this process (which may host the server) next to nothing.
 */
export interface HostileItem {
  /** The item of the issue it belongs to (1-7). */
  item: number;
  name: string;
  refused: boolean;
  /** Needs a database server: on the embedded database (one connection) a slow reader holds what everyone needs. */
  serverOnly?: boolean;
}
export interface HostileCase extends HostileItem {
  send(): Promise<number[]>;
}

/** The cases, known before any server starts (for test tables). */
export const HOSTILE_ITEMS: HostileItem[] = [
  { item: 1, name: 'exports aborted at random points', refused: false },
  { item: 2, name: 'slow export readers (1 KB/s) holding the whole export budget for 4 s', refused: false, serverOnly: true },
  { item: 3, name: 'an over-cost query, alone and padded with 10,001 __typename', refused: true },
  { item: 4, name: '1,000 aliases of eligibilityReport', refused: true },
  { item: 5, name: 'unauthenticated floods: 10 MB of nested arrays, 400,000 __typename aliases, 2,500 aliased __schema', refused: true },
  { item: 6, name: 'malformed JSON, an oversized body, tampered cursors, NUL characters and lone surrogates', refused: true },
  { item: 7, name: 'loose inputs: over-long free text and keys, unknown languages, a 9,000-row objectionsImport', refused: true },
];

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');

/** Starts an export; once it streams, `streaming` gets the paused response and the request. Resolves to its status. */
function openExport(
  app: Target,
  datasetId: string,
  streaming: (res: http.IncomingMessage, req: http.ClientRequest, done: () => void) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(
      `${app.url}/datasets/${datasetId}/export.ndjson`,
      { headers: { authorization: `Bearer ${app.tokens.ML_ENGINEER}` } },
      (res) => {
        res.on('error', () => undefined);
        if (res.statusCode !== 200) {
          res.resume().on('end', () => resolve(res.statusCode ?? 0));
          return;
        }
        streaming(res, req, () => resolve(200));
      },
    );
    req.on('error', () => resolve(0));
  });
}

/** Reads `bytes` of an export (0: none), then drops the connection. */
export const abortedExport = (app: Target, datasetId: string, bytes: number) =>
  openExport(app, datasetId, (res, req, done) => {
    let seen = 0;
    const abort = () => {
      req.destroy();
      done();
    };
    res.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen >= bytes) abort();
    });
    res.on('end', done);
    if (bytes === 0) abort();
  });

/** Reads an export at about 1 KB/s for `ms`, then drops the connection (or is cut by the server before). */
export const slowExport = (app: Target, datasetId: string, ms: number) =>
  openExport(app, datasetId, (res, req, done) => {
    const timer = setInterval(() => res.read(100), 100);
    const stop = () => {
      clearInterval(timer);
      req.destroy();
      done();
    };
    const deadline = setTimeout(stop, ms);
    res.on('close', () => {
      clearTimeout(deadline);
      stop();
    });
  });

/**
 * How a client sees a body too big to drain that the server cut after answering (it refuses before reading, then closes):
 * the write fails with one of these. Counted as a refusal (413) by every sender here, in this process or the attacker's.
 */
const CUT_AFTER_ANSWER = ['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET'];

/**
 * Unauthenticated floods sent `rounds` times by a process of its own (so that measuring the server is not measuring a
 * busy client): 10 MB of nested arrays, 400,000 `__typename` aliases (7.5 MB), 2,500 aliased `__schema` and the nested
 * arrays again with a forged token. Resolves to the statuses.
 */
export function floodFromProcess(url: string, rounds = 1): Promise<number[]> {
  const attacker = `
    const nested = Buffer.from('['.repeat(5_000_000) + ']'.repeat(5_000_000));
    const typenames = Buffer.from(JSON.stringify({ query: '{ ' + Array.from({ length: 400_000 }, (_, i) => 'a' + i + ': __typename').join(' ') + ' }' }));
    const schemas = Buffer.from(JSON.stringify({ query: '{ ' + Array.from({ length: 2500 }, (_, i) => 's' + i + ': __schema { types { name fields { name type { name } } } }').join(' ') + ' }' }));
    const send = (body, headers = {}) => fetch(process.argv[1] + '/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then((r) => r.status, (err) => (${JSON.stringify(CUT_AFTER_ANSWER)}.includes(err?.cause?.code) ? 413 : 599));
    (async () => {
      const statuses = [];
      for (let i = 0; i < Number(process.argv[2]); i++) statuses.push(await send(nested), await send(typenames), await send(schemas), await send(nested, { authorization: 'Bearer forged.token.here' }));
      console.log(JSON.stringify(statuses));
    })();`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', attacker, url, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.on('exit', () => resolve(out.trim() ? (JSON.parse(out) as number[]) : [599]));
  });
}

export function hostileCases(app: Target, options: { datasetId: string; exportBytes: number; exportBudget: number }): HostileCase[] {
  const sends: Record<number, () => Promise<number[]>> = {};
  const { datasetId, exportBytes, exportBudget } = options;
  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(30_000),
    }).then(
      async (r) => (await r.arrayBuffer(), r.status),
      (err) => (CUT_AFTER_ANSWER.includes(err?.cause?.code) ? 413 : 599),
    );
  const as = (role: Role = Role.AUDITOR) => ({ authorization: `Bearer ${app.tokens[role]}` });
  const gql = (query: string, variables: Record<string, unknown> = {}, role: Role = Role.AUDITOR) =>
    post(JSON.stringify({ query, variables }), as(role));
  const each = async (...sends: (() => Promise<number>)[]) => {
    const statuses: number[] = [];
    for (const send of sends) statuses.push(await send());
    return statuses;
  };

  // Built once.
  const fanned = Array.from({ length: 20 }, (_, i) => `a${i}: users(first: 500) { edges { node { id country contentCount } } }`).join(' ');
  const padded = JSON.stringify({ query: `{ ${fanned} ${'__typename '.repeat(10_001)}}` });
  const costly = JSON.stringify({ query: `{ ${fanned} }` });
  const reports = JSON.stringify({
    query: `{ ${Array.from({ length: 1000 }, (_, i) => `r${i}: eligibilityReport { evaluated }`).join(' ')} }`,
  });
  const oversized = Buffer.from(JSON.stringify({ query: '{ viewer { subject } }', variables: { pad: 'x'.repeat(1_100_000) } }));
  const importRows = JSON.stringify({
    query: 'mutation($i: ObjectionsImportInput!) { objectionsImport(input: $i) { importedCount } }',
    variables: {
      i: { rows: Array.from({ length: 9000 }, (_, i) => ({ externalUserId: `nobody-${i}`, scope: 'ALL_AI_TRAINING' })), reason: 'hostile' },
    },
  });

  sends[1] = async () => {
    const statuses: number[] = [];
    // In batches the size of the export budget: every one streams before it is aborted.
    for (let batch = 0; batch < 2; batch++)
      statuses.push(
        ...(await Promise.all(
          Array.from({ length: exportBudget }, () => abortedExport(app, datasetId, Math.floor(Math.random() * exportBytes * 0.6))),
        )),
      );
    return statuses;
  };
  sends[2] = () => Promise.all(Array.from({ length: exportBudget }, () => slowExport(app, datasetId, 4000)));
  sends[3] = () =>
    each(
      () => post(costly, as()),
      () => post(padded, as()),
    );
  sends[4] = () =>
    each(
      () => post(reports, as()),
      () => post(reports, as()),
    );
  sends[5] = () => floodFromProcess(app.url, 3);
  sends[6] = () =>
    each(
      () => post('{"query": "{ viewer { subject } }", "variables": {"email": "someone@example.org"', as()),
      () => post(oversized, as()),
      () => gql(`query($a: String) { users(after: $a) { edges { cursor } } }`, { a: b64(['x', 'y', 'z']) }),
      () => gql(`query($a: String) { datasets(after: $a) { edges { cursor } } }`, { a: 'not a cursor!' }),
      () => gql(`query($v: String) { users(filter: { externalId: $v }) { totalCount } }`, { v: 'a\u0000b' }),
      () => gql(`query($v: String!) { policy(key: $v) { id } }`, { v: 'x\ud800' }),
    );
  sends[7] = () =>
    each(
      () => gql(`query($v: String) { auditEvents(filter: { actorSubject: $v }) { totalCount } }`, { v: 'x'.repeat(70_000) }),
      () => gql(`query($v: String!) { policy(key: $v) { id } }`, { v: 'k'.repeat(100_000) }),
      () => gql(`query($l: [String!]) { contentItems(filter: { languages: $l }) { totalCount } }`, { l: ['english'] }),
      () => post(importRows, as(Role.PRIVACY_OFFICER)),
    );
  return HOSTILE_ITEMS.map((i) => ({ ...i, send: sends[i.item] }));
}
