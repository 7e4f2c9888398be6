import crypto from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { canonicalJson } from '../../common/canonical-json';
import { eachSlice } from '../../common/slices';
import { ledgerRowsAfter, ledgerRowsInRanges } from './audit.store';

/**
 * Binding of consent-ledger rows into the audit chain. Whoever inserts ledger rows inside an audited transaction
 * declares their ids (bindLedgerRows); the audit event of that transaction then records their id ranges, count and a
 * SHA-256 over their content, and is hashed (and later signed in a checkpoint) with it. Verification recomputes every
 * binding and reports any ledger row that no audit event binds: a row inserted behind the service's back.
 */
export interface LedgerBinding {
  v: 1;
  /** Inclusive id ranges, ascending, as strings (bigint ids). */
  ranges: [string, string][];
  count: number;
  sha256: string;
}

export interface LedgerRow {
  id: string;
  [column: string]: string | null;
}

/** One line of a binding's digest. */
export const ledgerLine = (r: LedgerRow) =>
  `${canonicalJson([r.id, r.user_id, r.type, r.scope, r.effective_at, r.recorded_at, r.channel, r.actor, r.reason, r.idempotency_key, r.request_digest])}\n`;

const pending = new WeakMap<EntityManager, string[]>();

/** Declares ledger rows written in the transaction of `manager`; its audit event will bind them. */
export function bindLedgerRows(manager: EntityManager, ids: (string | number)[]): void {
  if (!ids.length) return;
  const list = pending.get(manager) ?? [];
  for (const id of ids) list.push(String(id));
  pending.set(manager, list);
}

/** Takes (and forgets) the ledger row ids declared in the transaction of `manager`. */
export function takeLedgerRows(manager: EntityManager): string[] {
  const ids = pending.get(manager) ?? [];
  pending.delete(manager);
  return ids;
}

/** Sorted, de-duplicated ids as inclusive ranges of consecutive ids. */
export function ledgerIdRanges(ids: string[]): [string, string][] {
  // Ids below 2^53 (every sequence in practice) sort as doubles: 150,000 of them in a few milliseconds.
  const numbers = Float64Array.from(ids, Number);
  if (numbers.every(Number.isSafeInteger)) {
    numbers.sort();
    const out: [number, number][] = [];
    for (const id of numbers) {
      const last = out[out.length - 1];
      if (last && id <= last[1]) continue;
      if (last && id === last[1] + 1) last[1] = id;
      else out.push([id, id]);
    }
    return out.map(([a, b]) => [String(a), String(b)]);
  }
  const sorted = [...new Set(ids.map((id) => BigInt(id)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ranges: [bigint, bigint][] = [];
  for (const id of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && id === last[1] + 1n) last[1] = id;
    else ranges.push([id, id]);
  }
  return ranges.map(([a, b]) => [String(a), String(b)]);
}

const BINDING_PAGE = 10000;

/** The binding of the rows in `ranges`, read as they are now (inside the writer's transaction). */
export async function ledgerBinding(manager: EntityManager, ranges: [string, string][]): Promise<LedgerBinding | null> {
  if (!ranges.length) return null;
  const hash = crypto.createHash('sha256');
  let count = 0;
  // A bulk import binds 100,000s of rows: read a page at a time (in id order) and digested a slice at a time, the
  // event loop turning in between; memory stays one page.
  for (let after = '-1'; ;) {
    const rows = await ledgerRowsInRanges(manager, ranges, after, BINDING_PAGE);
    await eachSlice(rows, 1000, (slice) => {
      for (const row of slice) hash.update(ledgerLine(row));
    });
    count += rows.length;
    if (rows.length < BINDING_PAGE) break;
    after = rows[rows.length - 1].id;
  }
  return { v: 1, ranges, count, sha256: hash.digest('hex') };
}

export interface LedgerCheck {
  checkedRows: number;
  /** Ledger rows no audit event binds (the first 100). */
  unbound: string[];
  unboundCount: number;
  /** Audit events whose bound rows differ from what they recorded, with why. */
  mismatched: { eventId: string; problem: string }[];
}

/**
 * Streams the whole ledger in id order against the bindings of the chain (event id → binding): every row must fall in
 * exactly one binding's ranges, and every binding's rows must give its count and digest.
 */
export async function checkLedger(manager: EntityManager, bindings: Map<string, LedgerBinding>): Promise<LedgerCheck> {
  type Open = { eventId: string; binding: LedgerBinding; hash: crypto.Hash; seen: number };
  const ranges: { a: bigint; z: bigint; open: Open }[] = [];
  const mismatched: LedgerCheck['mismatched'] = [];
  const opens: Open[] = [];
  for (const [eventId, binding] of bindings) {
    const open = { eventId, binding, hash: crypto.createHash('sha256'), seen: 0 };
    opens.push(open);
    for (const [a, z] of binding.ranges) ranges.push({ a: BigInt(a), z: BigInt(z), open });
  }
  ranges.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].a <= ranges[i - 1].z)
      mismatched.push({
        eventId: ranges[i].open.eventId,
        problem: `claims ledger rows that audit event ${ranges[i - 1].open.eventId} binds`,
      });
  }
  const result: LedgerCheck = { checkedRows: 0, unbound: [], unboundCount: 0, mismatched };
  let ri = 0;
  let after = '0';
  for (;;) {
    const rows = await ledgerRowsAfter(manager, after);
    if (!rows.length) break;
    // A slice at a time, the event loop turning in between (as ledgerBinding does): a checkpoint verifies the whole
    // ledger while the server takes other requests, and a page of 5,000 lines held the loop for 100-500 ms.
    await eachSlice(rows, 1000, (slice) => {
      for (const row of slice) {
        result.checkedRows++;
        const id = BigInt(row.id);
        while (ri < ranges.length && ranges[ri].z < id) ri++;
        const range = ranges[ri];
        if (!range || range.a > id) {
          if (result.unbound.length < 100) result.unbound.push(row.id);
          result.unboundCount++;
        } else {
          range.open.hash.update(ledgerLine(row));
          range.open.seen++;
        }
      }
    });
    after = rows[rows.length - 1].id;
  }
  for (const o of opens) {
    const digest = o.hash.digest('hex');
    if (o.seen !== o.binding.count || digest !== o.binding.sha256) {
      mismatched.push({
        eventId: o.eventId,
        problem: `bound ${o.binding.count} ledger rows; ${o.seen} remain${digest === o.binding.sha256 ? '' : ', and their content differs'}`,
      });
    }
  }
  return result;
}
