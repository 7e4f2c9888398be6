import { MigrationInterface, QueryRunner } from 'typeorm';
import { refreshFunctionsSql } from './1764460000009-CurrentStateOnShards';

/**
 * The refresh triggers of the current state (migrations CurrentState, CurrentStateOnShards) lock the people or items
 * they refresh FOR NO KEY UPDATE instead of FOR UPDATE.
 *
 * Each INSERT into the ledger or the visibility history first checks its foreign key, which holds the person or item
 * FOR KEY SHARE; its trigger then locks the same row. FOR UPDATE conflicts with another writer's key-share lock, so two
 * writers of one person or item whose key checks both came first waited for each other: a deadlock, one of them failed
 * (40P01, a 500 to its client; seen as contentVisibilityChange racing builds in test/system/knowledge.test.ts). FOR NO
 * KEY UPDATE, the lock the refresh's own UPDATE of non-key columns takes anyway, still serialises two refreshes of one
 * row (it conflicts with itself) but not a refresh with a key check.
 */
export class RefreshLocksNoKey1764460000012 implements MigrationInterface {
  name = 'RefreshLocksNoKey1764460000012';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of refreshFunctionsSql('FOR NO KEY UPDATE')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of refreshFunctionsSql('FOR UPDATE')) await q.query(sql);
  }
}
