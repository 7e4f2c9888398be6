import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import { MutationPayload } from '../../common/payload';
import { ReasonCount } from '../eligibility';
import { ContentSelection } from '../content';

export enum DatasetStatus {
  ACTIVE = 'ACTIVE',
  SUPERSEDED = 'SUPERSEDED',
}
export enum DatasetOrigin {
  REQUEST = 'REQUEST',
  DERIVE = 'DERIVE',
  REMEDIATE = 'REMEDIATE',
}
export enum DeriveOperation {
  FILTER = 'FILTER',
  SAMPLE = 'SAMPLE',
  UNION = 'UNION',
  DEDUPLICATE = 'DEDUPLICATE',
}
registerEnumType(DatasetStatus, { name: 'DatasetStatus', description: 'ACTIVE, or SUPERSEDED by a remediated version.' });
registerEnumType(DatasetOrigin, { name: 'DatasetOrigin', description: 'How a dataset version was made.' });
registerEnumType(DeriveOperation, { name: 'DeriveOperation', description: 'Transformation that derives a dataset from others.' });

export interface DatasetRow {
  id: string;
  name: string;
  version: number;
  policyId: string;
  snapshotAt: Date;
  /** The PostgreSQL snapshot the membership statement ran on (null for versions built before snapshots were kept). */
  knowledgeSnapshot: string | null;
  requestedBy: string;
  purpose: string | null;
  origin: DatasetOrigin;
  spec: DatasetSpec;
  status: DatasetStatus;
  supersededBy: string | null;
  memberCount: number;
  candidateCount: number;
  exclusions: { reason: string; count: number }[];
  manifestDigest: string;
  createdAt: Date;
}

/** What a dataset version was built from, stored with it so that a rebuild (and build verification) can replay it. */
export interface DatasetSpec {
  filters?: { platforms?: string[]; kinds?: string[]; languages?: string[]; createdFrom?: string; createdTo?: string };
  sample?: { rate: number; seed: number };
  cap?: number;
  operation?: DeriveOperation;
  parents?: string[];
}

@ObjectType({ description: 'One immutable version of a training dataset.' })
export class Dataset {
  @Field(() => ID, { description: 'Opaque id.' })
  id: string;

  @Field({ description: 'Dataset name; versions of one name count up from 1.' })
  name: string;

  @Field(() => Int, { description: 'Version number.' })
  version: number;

  @Field({
    description: 'Snapshot instant: when the build looked. Membership honours exactly the facts committed before it, and none after.',
  })
  snapshotAt: Date;

  @Field({ description: 'Subject who requested it.' })
  requestedBy: string;

  @Field(() => String, { nullable: true, description: 'What it is for.' })
  purpose: string | null;

  @Field(() => DatasetOrigin, { description: 'REQUEST, DERIVE or REMEDIATE.' })
  origin: DatasetOrigin;

  @Field(() => JSONResolver, { description: 'Filters, sample, cap or transformation it was built with.' })
  spec: DatasetSpec;

  @Field(() => DatasetStatus, { description: 'ACTIVE or SUPERSEDED.' })
  status: DatasetStatus;

  @Field(() => Int, { description: 'Number of members.' })
  memberCount: number;

  @Field(() => Int, { description: 'Items considered (after filters, before eligibility, sampling and cap).' })
  candidateCount: number;

  @Field(() => [ReasonCount], { description: 'Candidates excluded at build time, by reason (an item can have several).' })
  exclusions: ReasonCount[];

  @Field({ description: "SHA-256 (hex) over the members' `id<TAB>contentHash<LF>` lines sorted by id (see README)." })
  manifestDigest: string;

  @Field({ description: 'When it was recorded.' })
  createdAt: Date;
}

@ObjectType({ description: 'One member of a dataset.' })
export class DatasetMember {
  @Field(() => ID, { description: 'The content item id.' })
  itemId: string;

  @Field({ description: "The item's content hash at the snapshot." })
  contentHash: string;
}

@ObjectType({ description: "Members that are ineligible with today's knowledge (objections, erasures, deletions since the snapshot)." })
export class DatasetTaint {
  @Field({ description: 'True when at least one member is ineligible now.' })
  tainted: boolean;

  @Field(() => Int, { description: 'Members ineligible now.' })
  taintedCount: number;

  @Field(() => [ReasonCount], { description: 'Counts by reason.' })
  reasons: ReasonCount[];

  @Field({ description: 'When this was evaluated.' })
  evaluatedAt: Date;
}

@ObjectType({ description: 'Does re-evaluating the dataset with the knowledge it had at its snapshot reproduce its membership?' })
export class BuildVerification {
  @Field({ description: 'True when the re-evaluation gives exactly the members (unverifiable members aside).' })
  reproduced: boolean;

  @Field(() => Int, { description: 'Members stored.' })
  memberCount: number;

  @Field(() => Int, { description: 'Members the re-evaluation gives.' })
  expectedCount: number;

  @Field(() => Int, { description: 'Items the re-evaluation gives that are not members.' })
  missingCount: number;

  @Field(() => Int, { description: 'Members the re-evaluation does not give.' })
  unexpectedCount: number;

  @Field(() => Int, {
    description:
      'Members whose author was erased after the snapshot: their facts (birth date) are gone, so they are left out of the comparison.',
  })
  unverifiableCount: number;
}

@InputType({ description: 'Which items a dataset may draw from.' })
export class DatasetFilterInput extends ContentSelection {}

@InputType({ description: 'A deterministic sample: an item is kept when the hash of its id and the seed falls under the rate.' })
export class SampleInput {
  @Field(() => Float, { description: 'Fraction to keep, 0 < rate <= 1.' })
  rate: number;

  @Field(() => Int, { defaultValue: 0, description: 'Seed; the same seed keeps the same items.' })
  seed: number;
}

@InputType({ description: 'A new dataset version computed by the server (the caller never supplies members).' })
export class DatasetRequestInput {
  @Field({ description: 'Dataset name; an existing name gets the next version.' })
  name: string;

  @Field({
    defaultValue: 'eu-ai-training',
    description: 'Policy key: its latest ENFORCE version is used (later DRY_RUN versions are not).',
  })
  policyKey: string;

  @Field(() => String, { nullable: true, description: 'What it is for (at most 2,000 characters; shown on the dataset card).' })
  purpose?: string;

  @Field(() => DatasetFilterInput, { nullable: true, description: 'Which items to draw from.' })
  filters?: DatasetFilterInput;

  @Field(() => SampleInput, { nullable: true, description: 'Keep a deterministic sample.' })
  sample?: SampleInput;

  @Field(() => Int, { nullable: true, description: 'At most this many members (deterministic: lowest sample hash first).' })
  cap?: number;
}

@InputType({ description: 'A dataset derived from existing versions; re-checked against the policy at its own snapshot.' })
export class DatasetDeriveInput {
  @Field({ description: 'Name of the derived dataset.' })
  name: string;

  @Field(() => DeriveOperation, { description: 'FILTER, SAMPLE, UNION or DEDUPLICATE (by content hash).' })
  operation: DeriveOperation;

  @Field(() => [ID], { description: 'Parent dataset versions (UNION and DEDUPLICATE take one or more, FILTER and SAMPLE exactly one).' })
  parentIds: string[];

  @Field(() => DatasetFilterInput, { nullable: true, description: 'FILTER: which members to keep.' })
  filters?: DatasetFilterInput;

  @Field(() => SampleInput, { nullable: true, description: 'SAMPLE: the sample to keep.' })
  sample?: SampleInput;

  @Field(() => String, { nullable: true, description: 'What it is for (at most 2,000 characters; shown on the dataset card).' })
  purpose?: string;
}

@InputType({ description: 'Build a new version without the members that became ineligible.' })
export class DatasetRemediateInput {
  @Field(() => ID, { description: 'The tainted dataset version.' })
  datasetId: string;
}

@ObjectType({ description: 'Result of datasetRequest, datasetDerive or datasetRemediate.' })
export class DatasetPayload extends MutationPayload {
  @Field(() => Dataset, { nullable: true, description: 'The new version.' })
  dataset?: DatasetRow;
}

@InputType({ description: 'Filter for `datasets`.' })
export class DatasetsFilter {
  @Field(() => String, { nullable: true, description: 'Only this name.' })
  name?: string;

  @Field(() => DatasetStatus, { nullable: true, description: 'Only this status.' })
  status?: DatasetStatus;
}
