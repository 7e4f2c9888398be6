import http from 'node:http';
import { Pool } from 'pg';
import { evaluationFromSql, NOW, reasonsSql } from '../src/modules/eligibility/eligibility.rules';

/**
 * The httpEligibility baseline: a minimal node:http handler that runs the same SQL as the service's eligibility query
 * (policy lookup, then the verdicts) and writes the same JSON, with no GraphQL, auth or framework in between.
 */
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const VERDICTS = `SELECT c.id, ${reasonsSql(NOW)} AS reasons
  FROM ${evaluationFromSql({ items: '(SELECT * FROM content_items WHERE id = ANY($2::uuid[]))', policyId: '$1::uuid', times: NOW })}`;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const ids: string[] = JSON.parse(Buffer.concat(chunks).toString()).variables.ids;
      const [policy] = (await pool.query(`SELECT * FROM policies WHERE key = 'eu-ai-training' ORDER BY version DESC LIMIT 1`)).rows;
      const rows = (await pool.query(VERDICTS, [policy.id, ids])).rows;
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
