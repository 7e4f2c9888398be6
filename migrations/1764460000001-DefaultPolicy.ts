import { MigrationInterface, QueryRunner } from 'typeorm';

/** The programme's first policy: adults' public content in the EU-27, SPECIAL_CATEGORY excluded, enforced. */
export class DefaultPolicy1764460000001 implements MigrationInterface {
  name = 'DefaultPolicy1764460000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      INSERT INTO policies (key, version, purpose, legal_basis, description, minimum_age, regions, platforms, kinds, excluded_labels, mode, created_by)
      VALUES ('eu-ai-training', 1, 'AI_MODEL_TRAINING', 'GDPR Art. 6(1)(f) legitimate interest',
        'Generative-AI training on adults'' public posts and comments and AI-assistant interactions in the EU.',
        18,
        ARRAY['AT','BE','BG','HR','CY','CZ','DK','EE','FI','FR','DE','GR','HU','IE','IT','LV','LT','LU','MT','NL','PL','PT','RO','SK','SI','ES','SE'],
        ARRAY['FACEBOOK','INSTAGRAM','AI_ASSISTANT'],
        ARRAY['POST','COMMENT','PHOTO_CAPTION','REEL_CAPTION','REVIEW','AI_PROMPT'],
        ARRAY['SPECIAL_CATEGORY'], 'ENFORCE', 'migration')`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Policies are append-only; the migration that created the row may remove it.
    await q.query(`ALTER TABLE policies DISABLE TRIGGER policies_append_only`);
    await q.query(`DELETE FROM policies WHERE key = 'eu-ai-training' AND version = 1`);
    await q.query(`ALTER TABLE policies ENABLE TRIGGER policies_append_only`);
  }
}
