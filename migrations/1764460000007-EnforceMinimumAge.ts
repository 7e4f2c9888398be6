import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An ENFORCE policy version may not set a minimum age below 18 (DESIGN.md §3); DRY_RUN versions may, for what-if
 * reports. Published versions are append-only, so a database that already holds such a version keeps it: the check then
 * guards every new row (NOT VALID) and is validated only where no old row breaks it.
 */
export class EnforceMinimumAge1764460000007 implements MigrationInterface {
  name = 'EnforceMinimumAge1764460000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE policies ADD CONSTRAINT policies_enforce_minimum_age CHECK (mode <> 'ENFORCE' OR minimum_age >= 18) NOT VALID`,
    );
    const [{ clean }] = await q.query(`SELECT NOT EXISTS (SELECT 1 FROM policies WHERE mode = 'ENFORCE' AND minimum_age < 18) AS clean`);
    if (clean) await q.query(`ALTER TABLE policies VALIDATE CONSTRAINT policies_enforce_minimum_age`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE policies DROP CONSTRAINT policies_enforce_minimum_age`);
  }
}
