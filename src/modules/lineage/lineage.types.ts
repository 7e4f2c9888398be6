import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import { MutationPayload } from '../../common/payload';
import { Dataset } from '../datasets';

export enum LineageDirection {
  UPSTREAM = 'UPSTREAM',
  DOWNSTREAM = 'DOWNSTREAM',
  BOTH = 'BOTH',
}
export enum LineageNodeKind {
  DATASET = 'DATASET',
  TRAINING_RUN = 'TRAINING_RUN',
}
export enum LineageEdgeType {
  DERIVED_FROM = 'DERIVED_FROM',
  TRAINED_ON = 'TRAINED_ON',
  REMEDIATED_FROM = 'REMEDIATED_FROM',
}
export enum ReviewStatus {
  CLEAN = 'CLEAN',
  TAINTED_PENDING = 'TAINTED_PENDING',
  RETRAIN_REQUIRED = 'RETRAIN_REQUIRED',
  RISK_ACCEPTED = 'RISK_ACCEPTED',
}
export enum ReviewDecision {
  RETRAIN_REQUIRED = 'RETRAIN_REQUIRED',
  RISK_ACCEPTED = 'RISK_ACCEPTED',
}
registerEnumType(LineageDirection, { name: 'LineageDirection', description: 'Which way to walk the lineage graph.' });
registerEnumType(LineageNodeKind, { name: 'LineageNodeKind', description: 'What a lineage node is.' });
registerEnumType(LineageEdgeType, { name: 'LineageEdgeType', description: 'How one artifact derives from another.' });
registerEnumType(ReviewStatus, {
  name: 'ReviewStatus',
  description: 'Review state of a training run: CLEAN, TAINTED_PENDING (needs review), or the review decision.',
});
registerEnumType(ReviewDecision, { name: 'ReviewDecision', description: "A privacy officer's decision on a tainted training run." });

export interface TrainingRunRow {
  id: string;
  modelName: string;
  modelVersion: string;
  description: string | null;
  recordedBy: string;
  createdAt: Date;
}

@ObjectType({ description: 'A model version trained on dataset versions.' })
export class TrainingRun {
  @Field(() => ID, { description: 'Opaque id.' })
  id: string;

  @Field({ description: 'Model name.' })
  modelName: string;

  @Field({ description: 'Model version.' })
  modelVersion: string;

  @Field(() => String, { nullable: true, description: 'Free text.' })
  description: string | null;

  @Field({ description: 'Subject who recorded it.' })
  recordedBy: string;

  @Field({ description: 'When it was recorded.' })
  createdAt: Date;
}

@ObjectType({ description: "A privacy officer's review of a tainted training run." })
export class TrainingRunReview {
  @Field(() => ID, { description: 'Opaque id.' })
  id: string;

  @Field(() => ReviewDecision, { description: 'RETRAIN_REQUIRED or RISK_ACCEPTED.' })
  decision: ReviewDecision;

  @Field({ description: 'Why.' })
  reason: string;

  @Field(() => Int, { description: 'Tainted members across its datasets when it was reviewed.' })
  taintedMembers: number;

  @Field({ description: 'Who reviewed it.' })
  reviewer: string;

  @Field({ description: 'When.' })
  reviewedAt: Date;
}

@InputType({ description: 'A training run to record.' })
export class TrainingRunRecordInput {
  @Field({ description: 'Model name (at most 200 characters).' })
  modelName: string;

  @Field({ description: 'Model version (unique per model name; at most 100 characters).' })
  modelVersion: string;

  @Field(() => [ID], { description: 'Dataset versions it consumed.' })
  datasetIds: string[];

  @Field(() => String, { nullable: true, description: 'Free text (at most 2,000 characters).' })
  description?: string;
}

@InputType({ description: 'A decision on a tainted training run.' })
export class TrainingRunReviewInput {
  @Field(() => ID, { description: 'The run.' })
  runId: string;

  @Field(() => ReviewDecision, { description: 'RETRAIN_REQUIRED or RISK_ACCEPTED.' })
  decision: ReviewDecision;

  @Field({ description: 'Why (required; at most 2,000 characters).' })
  reason: string;
}

@ObjectType({ description: 'Result of trainingRunRecord or trainingRunReview.' })
export class TrainingRunPayload extends MutationPayload {
  @Field(() => TrainingRun, { nullable: true, description: 'The run.' })
  trainingRun?: TrainingRunRow;
}

@ObjectType({ description: 'A dataset version or training run in the lineage graph.' })
export class LineageNode {
  @Field(() => ID, { description: 'Dataset or run id.' })
  id: string;

  @Field(() => LineageNodeKind, { description: 'DATASET or TRAINING_RUN.' })
  kind: LineageNodeKind;

  @Field(() => String, {
    nullable: true,
    description: "Dataset name and version, or model name and version; null for another ML engineer's artifact (an opaque id to them).",
  })
  label: string | null;

  @Field(() => Int, { description: 'Hops from the starting node.' })
  depth: number;

  @Field(() => String, { nullable: true, description: "ACTIVE or SUPERSEDED; null for runs and for another ML engineer's dataset." })
  status: string | null;
}

@ObjectType({ description: 'A lineage edge, upstream to downstream.' })
export class LineageEdge {
  @Field(() => ID, { description: 'The source artifact.' })
  upstreamId: string;

  @Field(() => ID, { description: 'The artifact made from it.' })
  downstreamId: string;

  @Field(() => LineageEdgeType, { description: 'DERIVED_FROM, TRAINED_ON or REMEDIATED_FROM.' })
  type: LineageEdgeType;

  @Field(() => JSONResolver, {
    nullable: true,
    description: "The transformation recorded with the edge; null when either end is another ML engineer's artifact.",
  })
  transformation: unknown;
}

@ObjectType({ description: 'A bounded walk of the lineage graph.' })
export class LineageGraph {
  @Field(() => [LineageNode], { description: 'Nodes reached, the start included.' })
  nodes: LineageNode[];

  @Field(() => [LineageEdge], { description: 'Edges walked.' })
  edges: LineageEdge[];

  @Field({ description: 'True when the depth or size limit cut the answer.' })
  truncated: boolean;
}

@ObjectType({ description: "One dataset version holding a person's content." })
export class FootprintDataset {
  @Field(() => Dataset, { description: 'The dataset version.' })
  dataset: unknown;

  @Field(() => Int, { description: "How many of the person's items it holds." })
  itemCount: number;
}

@ObjectType({ description: "One training run built on a dataset holding a person's content." })
export class FootprintRun {
  @Field(() => TrainingRun, { description: 'The run.' })
  trainingRun: TrainingRunRow;

  @Field(() => [ID], { description: "The datasets through which it holds the person's content." })
  viaDatasetIds: string[];
}

@ObjectType({ description: "Where a person's data went (GDPR Art. 15 and objection impact)." })
export class SubjectFootprint {
  @Field(() => ID, { description: 'The person.' })
  userId: string;

  @Field(() => Int, { description: 'Content items the person produced.' })
  contentCount: number;

  @Field(() => [FootprintDataset], { description: 'Every dataset version holding their content.' })
  datasets: FootprintDataset[];

  @Field(() => [FootprintRun], { description: 'Every training run built on those datasets.' })
  trainingRuns: FootprintRun[];
}
