import type { EntityManager } from 'typeorm';

/**
 * dataset_members has one partition per dataset version. A build loads its partition first and keys it after (no key
 * or foreign-key check per row), then attaches it: building, scanning or dropping one version never touches the
 * others. The benchmark measures this layout against one unpartitioned table with the same keys.
 */
export const memberPartitionName = (datasetId: string) => `dataset_members_${datasetId.replace(/-/g, '')}`;

/** A new, empty, unkeyed table shaped like dataset_members, for the version `datasetId` to be loaded into. */
export async function createMemberPartition(m: EntityManager, datasetId: string): Promise<string> {
  const part = memberPartitionName(datasetId);
  await m.query(`CREATE TABLE ${part} (LIKE dataset_members)`);
  return part;
}

/**
 * On Citus: the partition of version `datasetId`, created attached (so distributed with dataset_members, its shards
 * beside the content they list) for the build to load on the workers, and keyed after the load.
 */
export async function createDistributedMemberPartition(m: EntityManager, datasetId: string): Promise<string> {
  const part = memberPartitionName(datasetId);
  await m.query(`CREATE TABLE ${part} PARTITION OF dataset_members FOR VALUES IN ('${datasetId}')`);
  return part;
}

/** On Citus: keys the loaded (attached) partition, as keyMemberPartition does before attaching. */
export async function keyDistributedMemberPartition(m: EntityManager, part: string): Promise<void> {
  await m.query(`ALTER TABLE ${part} ADD PRIMARY KEY (item_id, author_id)`);
  await m.query(`CREATE INDEX ON ${part} (author_id)`);
}

/**
 * Gives a loaded table the shape and keys of a partition of dataset_members, for version `datasetId`: the working
 * columns of its build dropped (dataset.membership.store buildTableSql; a catalog change, no rewrite), every column NOT
 * NULL as the parent's are, the CHECK that lets ATTACH skip its scan of the rows, and the primary key, in one ALTER
 * (one scan verifies every new constraint; apart, each took its own); then the author index. The key includes the
 * author (the distribution column) like every unique key of the large tables.
 */
export async function keyMemberPartition(m: EntityManager, part: string, datasetId: string, workingColumns: string[] = []): Promise<void> {
  await m.query(
    `ALTER TABLE ${part} ${[
      ...workingColumns.map((c) => `DROP COLUMN ${c}`),
      'ALTER COLUMN dataset_id SET NOT NULL',
      'ALTER COLUMN content_hash SET NOT NULL',
      `ADD CONSTRAINT ${part}_dataset CHECK (dataset_id = '${datasetId}')`,
      'ADD PRIMARY KEY (item_id, author_id)',
    ].join(', ')}`,
  );
  await m.query(`CREATE INDEX ON ${part} (author_id)`);
}

/** Attaches a keyed partition (keyMemberPartition) as version `datasetId`'s. */
export async function attachMemberPartition(m: EntityManager, part: string, datasetId: string): Promise<void> {
  await m.query(`ALTER TABLE dataset_members ATTACH PARTITION ${part} FOR VALUES IN ('${datasetId}')`);
}
