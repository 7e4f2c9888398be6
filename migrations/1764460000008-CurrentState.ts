import { MigrationInterface, QueryRunner } from 'typeorm';

/** The scopes a person can object to, and the column that holds whether an objection to it is in force now. */
export const OBJECTION_COLUMNS = {
  ALL_AI_TRAINING: 'objects_all_ai_training',
  PUBLIC_CONTENT: 'objects_public_content',
  AI_INTERACTIONS: 'objects_ai_interactions',
} as const;

/** SQL: is the deciding event of `scope` for person `userSql` (at T = infinity, everything the statement sees) an objection? */
export const objectedNow = (
  userSql: string,
  scope: string,
  events = 'consent_events',
) => `coalesce((SELECT e.type = 'OBJECTION' FROM ${events} e
    WHERE e.user_id = ${userSql} AND e.scope = '${scope}' ORDER BY e.effective_at DESC, e.recorded_at DESC, e.id DESC LIMIT 1), false)`;

/** SQL: the latest visibility of item (`idSql`, `authorSql`), whatever its time (T = infinity). */
export const visibilityNow = (idSql: string, authorSql: string, changes = 'visibility_changes') => `(SELECT v.visibility FROM ${changes} v
    WHERE v.item_id = ${idSql} AND v.author_id = ${authorSql} ORDER BY v.changed_at DESC, v.id DESC LIMIT 1)`;

/**
 * Current state, kept exact by the database itself, so that evaluations "now" (every build, the ML text gate,
 * `eligibleContent` without `asOf`) join people and items by hash instead of looking up history per item:
 *
 * - `users.objects_*`: whether each scope's deciding ledger event is an objection, at T = infinity (no fact takes
 *   effect after it is recorded, so that is "now");
 * - `content_items.visibility_now`: the latest visibility change.
 *
 * Statement-level triggers on the ledger and the visibility history refresh them in the writer's own transaction,
 * after locking the people or items concerned, so two writers of one person or item refresh one after the other
 * (each refresh runs with a new snapshot, after the lock). A build's snapshot therefore sees a fact and the state it
 * implies together, or neither. Past instants and a snapshot's knowledge are still judged from the history.
 */
export class CurrentState1764460000008 implements MigrationInterface {
  name = 'CurrentState1764460000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE content_items ADD COLUMN visibility_now text CHECK (visibility_now IN ('PUBLIC','FRIENDS','ONLY_ME'))`);
    await q.query(`ALTER TABLE users ADD COLUMN objects_all_ai_training boolean NOT NULL DEFAULT false,
      ADD COLUMN objects_public_content boolean NOT NULL DEFAULT false, ADD COLUMN objects_ai_interactions boolean NOT NULL DEFAULT false`);
    await q.query(`UPDATE content_items c SET visibility_now = v.visibility
      FROM (SELECT DISTINCT ON (item_id, author_id) item_id, author_id, visibility FROM visibility_changes
            ORDER BY item_id, author_id, changed_at DESC, id DESC) v
      WHERE v.item_id = c.id AND v.author_id = c.author_id`);
    await q.query(`UPDATE users u SET ${Object.entries(OBJECTION_COLUMNS)
      .map(([scope, col]) => `${col} = ${objectedNow('u.id', scope)}`)
      .join(', ')}
      WHERE u.id IN (SELECT user_id FROM consent_events)`);

    await q.query(`
      CREATE FUNCTION refresh_objections() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM 1 FROM users WHERE id IN (SELECT user_id FROM new_events) ORDER BY id FOR UPDATE;
        UPDATE users u SET ${Object.entries(OBJECTION_COLUMNS)
          .map(([scope, col]) => `${col} = ${objectedNow('u.id', scope)}`)
          .join(',\n          ')}
        WHERE u.id IN (SELECT user_id FROM new_events);
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER consent_events_refresh_objections AFTER INSERT ON consent_events
      REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION refresh_objections()`);
    await q.query(`
      CREATE FUNCTION refresh_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM 1 FROM content_items WHERE (id, author_id) IN (SELECT item_id, author_id FROM new_changes) ORDER BY id FOR UPDATE;
        UPDATE content_items c SET visibility_now = l.visibility
        FROM (SELECT DISTINCT item_id, author_id FROM new_changes) t
        CROSS JOIN LATERAL (SELECT ${visibilityNow('t.item_id', 't.author_id')} AS visibility) l
        WHERE c.id = t.item_id AND c.author_id = t.author_id AND c.visibility_now IS DISTINCT FROM l.visibility;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER visibility_changes_refresh_visibility AFTER INSERT ON visibility_changes
      REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION refresh_visibility()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER visibility_changes_refresh_visibility ON visibility_changes`);
    await q.query(`DROP FUNCTION refresh_visibility()`);
    await q.query(`DROP TRIGGER consent_events_refresh_objections ON consent_events`);
    await q.query(`DROP FUNCTION refresh_objections()`);
    await q.query(
      `ALTER TABLE users DROP COLUMN objects_all_ai_training, DROP COLUMN objects_public_content, DROP COLUMN objects_ai_interactions`,
    );
    await q.query(`ALTER TABLE content_items DROP COLUMN visibility_now`);
  }
}
