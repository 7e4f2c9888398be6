import type { DatasetRow } from '../datasets';
import type { TrainingRunRow } from './lineage.types';

/** Who emits the events (OpenLineage `producer`) and the namespaces we name things in. */
export const PRODUCER = 'https://github.com/ai-data-governance/api';
export const NAMESPACE = 'ai-data-governance';
const SPEC = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';
const FACET = {
  datasetVersion: 'https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet',
  schema: 'https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
  outputStatistics:
    'https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet',
  jobType: 'https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet',
  documentation: 'https://openlineage.io/spec/facets/1-1-0/DocumentationJobFacet.json#/$defs/DocumentationJobFacet',
  processingEngine: 'https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet',
};
const facet = (schemaURL: string, body: Record<string, unknown>) => ({ _producer: PRODUCER, _schemaURL: schemaURL, ...body });

/** The columns of a dataset export, as an OpenLineage schema facet. */
const MEMBER_SCHEMA = [
  ['id', 'UUID', 'content item id'],
  ['contentHash', 'CHAR(64)', 'SHA-256 of the text at the snapshot'],
  ['text', 'TEXT', 'the content'],
  ['language', 'VARCHAR', 'ISO 639 code'],
  ['platform', 'VARCHAR', 'FACEBOOK, INSTAGRAM or AI_ASSISTANT'],
  ['kind', 'VARCHAR', 'content kind'],
  ['createdAt', 'TIMESTAMP', 'creation instant on the platform'],
].map(([name, type, description], i) => ({ name, type, description, ordinal_position: i + 1 }));

function datasetRef(d: DatasetRow, withSchema: boolean) {
  return {
    namespace: NAMESPACE,
    name: `datasets/${d.name}`,
    facets: {
      version: facet(FACET.datasetVersion, { datasetVersion: String(d.version) }),
      ...(withSchema ? { schema: facet(FACET.schema, { fields: MEMBER_SCHEMA }) } : {}),
    },
  };
}

/** A dataset the caller may not see (another ML engineer's): its opaque id only. */
const inputRef = (d: DatasetRow | string) =>
  typeof d === 'string' ? { namespace: NAMESPACE, name: `datasets/${d}`, facets: {} } : datasetRef(d, false);

/** A COMPLETE RunEvent of one batch job of ours. */
function completeRunEvent(e: {
  time: Date;
  runId: string;
  version: string;
  job: string;
  jobType: string;
  jobFacets?: Record<string, unknown>;
  inputs: unknown[];
  outputs: unknown[];
}) {
  return {
    eventType: 'COMPLETE',
    eventTime: e.time.toISOString(),
    producer: PRODUCER,
    schemaURL: SPEC,
    run: {
      runId: e.runId,
      facets: { processing_engine: facet(FACET.processingEngine, { name: 'ai-data-governance', version: e.version }) },
    },
    job: {
      namespace: NAMESPACE,
      name: e.job,
      facets: {
        jobType: facet(FACET.jobType, { processingType: 'BATCH', integration: 'AI_DATA_GOVERNANCE', jobType: e.jobType }),
        ...e.jobFacets,
      },
    },
    inputs: e.inputs,
    outputs: e.outputs,
  };
}

/** The COMPLETE RunEvent of a dataset build, derivation or remediation. */
export function datasetEvent(d: DatasetRow, parents: (DatasetRow | string)[], version: string) {
  return completeRunEvent({
    time: d.createdAt,
    runId: d.id,
    version,
    job: `dataset-${d.origin.toLowerCase()}/${d.name}`,
    jobType: `DATASET_${d.origin}`,
    jobFacets: {
      documentation: facet(FACET.documentation, {
        description: `${d.origin} of ${d.name} v${d.version} under policy ${d.policyId}, snapshot ${d.snapshotAt.toISOString()}, manifest ${d.manifestDigest}`,
      }),
    },
    inputs: parents.length ? parents.map(inputRef) : [{ namespace: NAMESPACE, name: 'tables/content_items', facets: {} }],
    outputs: [{ ...datasetRef(d, true), outputFacets: { outputStatistics: facet(FACET.outputStatistics, { rowCount: d.memberCount }) } }],
  });
}

/** The COMPLETE RunEvent of a training run: the datasets it consumed in, the model version out. */
export function trainingRunEvent(run: TrainingRunRow, datasets: (DatasetRow | string)[], version: string) {
  return completeRunEvent({
    time: run.createdAt,
    runId: run.id,
    version,
    job: `training/${run.modelName}`,
    jobType: 'MODEL_TRAINING',
    inputs: datasets.map(inputRef),
    outputs: [
      {
        namespace: NAMESPACE,
        name: `models/${run.modelName}`,
        facets: { version: facet(FACET.datasetVersion, { datasetVersion: run.modelVersion }) },
      },
    ],
  });
}
