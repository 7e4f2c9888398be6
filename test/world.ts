import { TestApp, uniq } from './helpers';

/**
 * Builds precise test worlds straight in SQL: users with given birth dates, items created at given instants, visibility
 * histories and ledger events with chosen effective and recorded times (the API would stamp recorded-at with now).
 */
export class World {
  constructor(private readonly t: TestApp) {}

  async user(over: { birthDate?: string | null; country?: string; erasedAt?: string | null } = {}): Promise<string> {
    const [row] = await this.t.sql(`INSERT INTO users (external_id, birth_date, country, erased_at) VALUES ($1, $2, $3, $4) RETURNING id`, [
      uniq('wu'),
      over.birthDate === undefined ? '1990-01-01' : over.birthDate,
      over.country ?? 'DE',
      over.erasedAt ?? null,
    ]);
    return row.id;
  }

  async item(
    authorId: string,
    over: {
      platform?: string;
      kind?: string;
      createdAt?: string;
      labels?: string[];
      deletedAt?: string | null;
      visibility?: string | null;
      language?: string;
      text?: string;
    } = {},
  ): Promise<string> {
    const createdAt = over.createdAt ?? '2025-01-01T00:00:00Z';
    const [row] = await this.t.sql(
      `INSERT INTO content_items (external_id, author_id, platform, kind, text, language, content_hash, created_at, labels, deleted_at, deletion_recorded_at)
       VALUES ($1, $2, $3, $4, $8, $9, encode(sha256(convert_to($8, 'UTF8')), 'hex'), $5, $6, $7, $7) RETURNING id`,
      [
        uniq('wc'),
        authorId,
        over.platform ?? 'FACEBOOK',
        over.kind ?? 'POST',
        createdAt,
        over.labels ?? [],
        over.deletedAt ?? null,
        over.text ?? 'text',
        over.language ?? 'de',
      ],
    );
    if (over.visibility !== null) await this.visibility(row.id, over.visibility ?? 'PUBLIC', createdAt);
    return row.id;
  }

  async visibility(itemId: string, visibility: string, changedAt: string, recordedAt?: string): Promise<void> {
    await this.t.sql(
      `INSERT INTO visibility_changes (item_id, author_id, visibility, changed_at, recorded_at)
      SELECT id, author_id, $2, $3, coalesce($4::timestamptz, now()) FROM content_items WHERE id = $1`,
      [itemId, visibility, changedAt, recordedAt ?? null],
    );
  }

  async event(
    userId: string,
    type: 'OBJECTION' | 'OBJECTION_WITHDRAWN',
    scope: string,
    effectiveAt: string,
    recordedAt?: string,
  ): Promise<string> {
    const [row] = await this.t.sql(
      `INSERT INTO consent_events (user_id, type, scope, effective_at, recorded_at, channel, actor, reason)
       VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, greatest(now(), $4::timestamptz)), 'PRIVACY_STAFF', 'test', 'test world') RETURNING id`,
      [userId, type, scope, effectiveAt, recordedAt ?? null],
    );
    return row.id;
  }
}
