import http from 'node:http';
import { Pool } from 'pg';
import { POOL_SIZE } from '../src/config';
import { VERDICTS_SQL } from '../src/modules/eligibility/eligibility.store';
import { LATEST_POLICY_SQL } from '../src/modules/policies';

/**
 * The httpEligibility baseline: a minimal node:http handler that runs the very statements of the service's eligibility
 * query (the policy lookup, then the verdicts: the same SQL text and parameters, on a pool of the server's size) and
 * writes the same JSON, with no GraphQL, auth or framework in between.
 */
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: POOL_SIZE });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const ids: string[] = JSON.parse(Buffer.concat(chunks).toString()).variables.ids;
      const [policy] = (await pool.query(LATEST_POLICY_SQL, ['eu-ai-training'])).rows;
      const rows = (await pool.query(VERDICTS_SQL, [policy.id, ids])).rows;
      const byId = new Map(rows.map((r) => [r.id, r.reasons as string[]]));
      const verdicts = ids.map((id) => ({ itemId: id, eligible: (byId.get(id) ?? ['?']).length === 0, reasons: byId.get(id) ?? [] }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { eligibility: verdicts } }));
    } catch (err) {
      res.writeHead(500);
      res.end(String(err));
    }
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`listening ${typeof a === 'object' && a ? a.port : 0}\n`);
});
