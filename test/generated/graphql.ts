/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** How a consent event reached us. */
export type ConsentChannel =
  | 'BULK_IMPORT'
  | 'OBJECTION_FORM'
  | 'PRIVACY_STAFF'
  | 'REGULATOR'
  | 'SETTINGS';

/** Kind of consent-ledger event. */
export type ConsentEventType =
  | 'OBJECTION'
  | 'OBJECTION_WITHDRAWN';

/** What an objection covers: ALL_AI_TRAINING every kind, PUBLIC_CONTENT every kind but AI_PROMPT, AI_INTERACTIONS AI_PROMPT. */
export type ConsentScope =
  | 'AI_INTERACTIONS'
  | 'ALL_AI_TRAINING'
  | 'PUBLIC_CONTENT';

/** A batch of content items; all or nothing. */
export type ContentIngestInput = {
  /** Up to 10,000 items. */
  items: Array<ContentIngestRow>;
};

/** One item to create or update, matched on externalId. */
export type ContentIngestRow = {
  /** externalId of the author (must be ingested first; at most 200 characters). */
  authorExternalId: string;
  /** When it was created on the platform (not in the future). */
  createdAt: string;
  /** Id of the item on the platform (unique; at most 200 characters). */
  externalId: string;
  /** What it is. */
  kind: ContentKind;
  /** Labels, UPPER_SNAKE_CASE. */
  labels?: Array<string>;
  /** Language, ISO 639 code in lower case (e.g. de). */
  language: string;
  /** Where it was produced. */
  platform: Platform;
  /** The text (at most 65,536 characters). */
  text: string;
  /** Visibility at creation (for a new item; later changes go through contentVisibilityChange). */
  visibility: Visibility;
};

/** What kind of content an item is. */
export type ContentKind =
  | 'AI_PROMPT'
  | 'COMMENT'
  | 'PHOTO_CAPTION'
  | 'POST'
  | 'PRIVATE_MESSAGE'
  | 'REEL_CAPTION'
  | 'REVIEW';

/** A dataset derived from existing versions; re-checked against the policy at its own snapshot. */
export type DatasetDeriveInput = {
  /** FILTER: which members to keep. */
  filters?: DatasetFilterInput | null | undefined;
  /** Name of the derived dataset. */
  name: string;
  /** FILTER, SAMPLE, UNION or DEDUPLICATE (by content hash). */
  operation: DeriveOperation;
  /** Parent dataset versions (UNION and DEDUPLICATE take one or more, FILTER and SAMPLE exactly one). */
  parentIds: Array<string | number>;
  /** What it is for (at most 2,000 characters; shown on the dataset card). */
  purpose?: string | null | undefined;
  /** SAMPLE: the sample to keep. */
  sample?: SampleInput | null | undefined;
};

/** Which items a dataset may draw from. */
export type DatasetFilterInput = {
  /** Only items created at or after this instant. */
  createdFrom?: string | null | undefined;
  /** Only items created before this instant. */
  createdTo?: string | null | undefined;
  /** Only these kinds. */
  kinds?: Array<ContentKind> | null | undefined;
  /** Only these languages: ISO 639 codes in lower case (e.g. de), at most 200; anything else is BAD_USER_INPUT. */
  languages?: Array<string> | null | undefined;
  /** Only these platforms. */
  platforms?: Array<Platform> | null | undefined;
};

/** Build a new version without the members that became ineligible. */
export type DatasetRemediateInput = {
  /** The tainted dataset version. */
  datasetId: string | number;
};

/** A new dataset version computed by the server (the caller never supplies members). */
export type DatasetRequestInput = {
  /** At most this many members (deterministic: lowest sample hash first). */
  cap?: number | null | undefined;
  /** Which items to draw from. */
  filters?: DatasetFilterInput | null | undefined;
  /** Dataset name; an existing name gets the next version. */
  name: string;
  /** Policy key: its latest ENFORCE version is used (later DRY_RUN versions are not). */
  policyKey?: string;
  /** What it is for (at most 2,000 characters; shown on the dataset card). */
  purpose?: string | null | undefined;
  /** Keep a deterministic sample. */
  sample?: SampleInput | null | undefined;
};

/** ACTIVE, or SUPERSEDED by a remediated version. */
export type DatasetStatus =
  | 'ACTIVE'
  | 'SUPERSEDED';

/** Transformation that derives a dataset from others. */
export type DeriveOperation =
  | 'DEDUPLICATE'
  | 'FILTER'
  | 'SAMPLE'
  | 'UNION';

/** A request to erase a person (GDPR Art. 17). */
export type ErasureRequestInput = {
  /** Why (e.g. the request reference; at most 2,000 characters). */
  reason: string;
  /** The person. */
  userId: string | number;
};

/** Stable error codes, in `userErrors` and in `extensions.code`. */
export type ErrorCode =
  | 'ALREADY_ERASED'
  | 'BAD_USER_INPUT'
  | 'BUSY'
  | 'CONFLICT'
  | 'DATASET_SUPERSEDED'
  | 'DATASET_TAINTED'
  | 'FORBIDDEN'
  | 'INTERNAL_SERVER_ERROR'
  | 'NOTHING_TO_WITHDRAW'
  | 'NOT_FOUND'
  | 'POLICY_NOT_ENFORCED'
  | 'RATE_LIMITED'
  | 'SERVICE_UNAVAILABLE'
  | 'TIMEOUT'
  | 'UNAUTHENTICATED';

/** Which way to walk the lineage graph. */
export type LineageDirection =
  | 'BOTH'
  | 'DOWNSTREAM'
  | 'UPSTREAM';

/** How one artifact derives from another. */
export type LineageEdgeType =
  | 'DERIVED_FROM'
  | 'REMEDIATED_FROM'
  | 'TRAINED_ON';

/** What a lineage node is. */
export type LineageNodeKind =
  | 'DATASET'
  | 'TRAINING_RUN';

/** One objection of a bulk import. */
export type ObjectionImportRow = {
  /** Default BULK_IMPORT. */
  channel?: ConsentChannel | null | undefined;
  /** When it takes effect (default now; never in the future; in the past only with a reason). */
  effectiveAt?: string | null | undefined;
  /** externalId of the person (at most 200 characters). */
  externalUserId: string;
  /** Why (default: the batch reason; at most 2,000 characters). */
  reason?: string | null | undefined;
  /** What the objection covers. */
  scope: ConsentScope;
};

/** An objection to record, or one to withdraw. */
export type ObjectionInput = {
  /** How it reached us. */
  channel?: ConsentChannel;
  /** When it takes effect: default now; never in the future; in the past only with a reason. */
  effectiveAt?: string | null | undefined;
  /** At most 200 characters. Replaying the same key with the same input returns the original event (a field sent as null counts as omitted); with a different input it is a CONFLICT. */
  idempotencyKey?: string | null | undefined;
  /** Why; required when effectiveAt is in the past (at most 2,000 characters). */
  reason?: string | null | undefined;
  /** What the objection covers. */
  scope: ConsentScope;
  /** The person. */
  userId: string | number;
};

/** Many objections at once: all or nothing. */
export type ObjectionsImportInput = {
  /** Reason for rows that give none (at most 2,000 characters). */
  reason?: string | null | undefined;
  /** At most 1,000 rows (more are refused with BAD_USER_INPUT before they are read); bigger batches, up to 200,000 rows, go as CSV or NDJSON to `POST /objections/import`. */
  rows: Array<ObjectionImportRow>;
};

/** Where a content item was produced. */
export type Platform =
  | 'AI_ASSISTANT'
  | 'FACEBOOK'
  | 'INSTAGRAM';

/** ENFORCE excludes; DRY_RUN only reports what would be excluded. */
export type PolicyMode =
  | 'DRY_RUN'
  | 'ENFORCE';

/** A new version of a policy (the version number is assigned by the server). */
export type PolicyPublishInput = {
  /** Free-text description (at most 2,000 characters). */
  description?: string | null | undefined;
  /** Labels that exclude an item. */
  excludedLabels?: Array<string>;
  /** Policy key; a new key starts at version 1. */
  key: string;
  /** Kinds covered (PRIVATE_MESSAGE is never eligible whatever this says). */
  kinds: Array<ContentKind>;
  /** Legal basis relied on (at most 500 characters). */
  legalBasis: string;
  /** Minimum author age at creation: 18 or more for ENFORCE, any age for DRY_RUN. */
  minimumAge?: number;
  /** ENFORCE or DRY_RUN. */
  mode: PolicyMode;
  /** Platforms covered. */
  platforms: Array<Platform>;
  /** Processing purpose. */
  purpose?: Purpose;
  /** Countries covered (default: EU-27). */
  regions?: Array<string> | null | undefined;
  /** Content window end (exclusive). */
  windowEnd?: string | null | undefined;
  /** Content window start (inclusive). */
  windowStart?: string | null | undefined;
};

/** The processing purpose a policy governs. */
export type Purpose =
  | 'AI_MODEL_TRAINING';

/** A reason an item is not eligible (DESIGN.md §3). */
export type ReasonCode =
  | 'AUTHOR_AGE_UNKNOWN'
  | 'AUTHOR_ERASED'
  | 'AUTHOR_MINOR_AT_CREATION'
  | 'CONTENT_DELETED'
  | 'EXCLUDED_LABEL'
  | 'KIND_NOT_COVERED'
  | 'NOT_PUBLIC'
  | 'OBJECTED'
  | 'OUTSIDE_WINDOW'
  | 'PLATFORM_NOT_COVERED'
  | 'PRIVATE_MESSAGE'
  | 'REGION_NOT_COVERED';

/** Review state of a training run: CLEAN, TAINTED_PENDING (needs review), or the review decision. */
export type ReviewStatus =
  | 'CLEAN'
  | 'RETRAIN_REQUIRED'
  | 'RISK_ACCEPTED'
  | 'TAINTED_PENDING';

/** A deterministic sample: an item is kept when the hash of its id and the seed falls under the rate. */
export type SampleInput = {
  /** Fraction to keep, 0 < rate <= 1. */
  rate: number;
  /** Seed; the same seed keeps the same items. */
  seed?: number;
};

/** A training run to record. */
export type TrainingRunRecordInput = {
  /** Dataset versions it consumed. */
  datasetIds: Array<string | number>;
  /** Free text (at most 2,000 characters). */
  description?: string | null | undefined;
  /** Model name (at most 200 characters). */
  modelName: string;
  /** Model version (unique per model name; at most 100 characters). */
  modelVersion: string;
};

/** One user to create or update, matched on externalId. */
export type UserIngestRow = {
  /** Birth date (YYYY-MM-DD); omit when unknown. */
  birthDate?: string | null | undefined;
  /** Country, ISO 3166-1 alpha-2 (e.g. DE). */
  country: string;
  /** When the account was deleted on the platform, if it was. */
  deletedAt?: string | null | undefined;
  /** Email address. */
  email?: string | null | undefined;
  /** Id of the person on the platform (unique; at most 200 characters). */
  externalId: string;
  /** Public handle (at most 200 characters). */
  handle?: string | null | undefined;
};

/** A batch of users; all or nothing. */
export type UsersIngestInput = {
  /** Up to 10,000 users. */
  users: Array<UserIngestRow>;
};

/** Who could see an item. */
export type Visibility =
  | 'FRIENDS'
  | 'ONLY_ME'
  | 'PUBLIC';

export type AuditChainVerificationQueryVariables = Exact<{ [key: string]: never; }>;


export type AuditChainVerificationQuery = { auditChainVerification: { valid: boolean, checkedEvents: number, firstBrokenEventId: string | null } };

export type ObjectionRecordMutationVariables = Exact<{
  input: ObjectionInput;
}>;


export type ObjectionRecordMutation = { objectionRecord: { replayed: boolean | null, event: { id: string, userId: string, type: ConsentEventType, scope: ConsentScope, effectiveAt: string, recordedAt: string, channel: ConsentChannel, actor: string, reason: string | null } | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export type ObjectionWithdrawMutationVariables = Exact<{
  input: ObjectionInput;
}>;


export type ObjectionWithdrawMutation = { objectionWithdraw: { replayed: boolean | null, event: { id: string, type: ConsentEventType, scope: ConsentScope } | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export type ObjectionsImportMutationVariables = Exact<{
  input: ObjectionsImportInput;
}>;


export type ObjectionsImportMutation = { objectionsImport: { importedCount: number | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export type ErasureRequestMutationVariables = Exact<{
  input: ErasureRequestInput;
}>;


export type ErasureRequestMutation = { erasureRequest: { erasedContentCount: number | null, user: { id: string, erasedAt: string | null, handle: string | null, email: string | null, birthDate: string | null, country: string } | null, userErrors: Array<{ code: ErrorCode, field: string | null }> } };

export type ContentIngestMutationVariables = Exact<{
  input: ContentIngestInput;
}>;


export type ContentIngestMutation = { contentIngest: { createdCount: number | null, updatedCount: number | null, items: Array<{ id: string, externalId: string, contentHash: string }> | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export type DatasetFieldsFragment = { id: string, name: string, version: number, status: DatasetStatus, snapshotAt: string, memberCount: number, candidateCount: number, manifestDigest: string, exclusions: Array<{ reason: ReasonCode, count: number }>, policy: { key: string, version: number } };

export type DatasetRequestMutationVariables = Exact<{
  input: DatasetRequestInput;
}>;


export type DatasetRequestMutation = { datasetRequest: { dataset: { id: string, name: string, version: number, status: DatasetStatus, snapshotAt: string, memberCount: number, candidateCount: number, manifestDigest: string, exclusions: Array<{ reason: ReasonCode, count: number }>, policy: { key: string, version: number } } | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export type DatasetDeriveMutationVariables = Exact<{
  input: DatasetDeriveInput;
}>;


export type DatasetDeriveMutation = { datasetDerive: { dataset: { id: string, name: string, version: number, status: DatasetStatus, snapshotAt: string, memberCount: number, candidateCount: number, manifestDigest: string, parents: Array<{ id: string }>, exclusions: Array<{ reason: ReasonCode, count: number }>, policy: { key: string, version: number } } | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export type DatasetRemediateMutationVariables = Exact<{
  input: DatasetRemediateInput;
}>;


export type DatasetRemediateMutation = { datasetRemediate: { dataset: { id: string, name: string, version: number, status: DatasetStatus, snapshotAt: string, memberCount: number, candidateCount: number, manifestDigest: string, parents: Array<{ id: string }>, exclusions: Array<{ reason: ReasonCode, count: number }>, policy: { key: string, version: number } } | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export type TrainingRunRecordMutationVariables = Exact<{
  input: TrainingRunRecordInput;
}>;


export type TrainingRunRecordMutation = { trainingRunRecord: { trainingRun: { id: string, reviewStatus: ReviewStatus } | null, userErrors: Array<{ code: ErrorCode, field: string | null }> } };

export type EligibilityForIdsQueryVariables = Exact<{
  ids: Array<string | number> | string | number;
}>;


export type EligibilityForIdsQuery = { eligibility: Array<{ itemId: string, found: boolean, eligible: boolean, excluded: boolean, reasons: Array<ReasonCode>, item: { id: string } | null, policy: { key: string, version: number } }> };

export type LineageQueryVariables = Exact<{
  id: string | number;
  dir?: LineageDirection | null | undefined;
  depth?: number | null | undefined;
}>;


export type LineageQuery = { lineage: { truncated: boolean, nodes: Array<{ id: string, kind: LineageNodeKind, depth: number }>, edges: Array<{ upstreamId: string, downstreamId: string, type: LineageEdgeType }> } };

export type PolicyPublishMutationVariables = Exact<{
  input: PolicyPublishInput;
}>;


export type PolicyPublishMutation = { policyPublish: { policy: { id: string, key: string, version: number, mode: PolicyMode } | null, userErrors: Array<{ code: ErrorCode, field: string | null, message: string }> } };

export type UsersIngestMutationVariables = Exact<{
  input: UsersIngestInput;
}>;


export type UsersIngestMutation = { usersIngest: { createdCount: number | null, updatedCount: number | null, users: Array<{ id: string, externalId: string, country: string }> | null, userErrors: Array<{ code: ErrorCode, message: string, field: string | null }> } };

export const DatasetFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatasetFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Dataset"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"snapshotAt"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"candidateCount"}},{"kind":"Field","name":{"kind":"Name","value":"manifestDigest"}},{"kind":"Field","name":{"kind":"Name","value":"exclusions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"count"}}]}},{"kind":"Field","name":{"kind":"Name","value":"policy"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]}}]} as unknown as DocumentNode<DatasetFieldsFragment, unknown>;
export const AuditChainVerificationDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AuditChainVerification"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditChainVerification"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"valid"}},{"kind":"Field","name":{"kind":"Name","value":"checkedEvents"}},{"kind":"Field","name":{"kind":"Name","value":"firstBrokenEventId"}}]}}]}}]} as unknown as DocumentNode<AuditChainVerificationQuery, AuditChainVerificationQueryVariables>;
export const ObjectionRecordDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ObjectionRecord"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ObjectionInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"objectionRecord"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"scope"}},{"kind":"Field","name":{"kind":"Name","value":"effectiveAt"}},{"kind":"Field","name":{"kind":"Name","value":"recordedAt"}},{"kind":"Field","name":{"kind":"Name","value":"channel"}},{"kind":"Field","name":{"kind":"Name","value":"actor"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}}]}},{"kind":"Field","name":{"kind":"Name","value":"replayed"}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<ObjectionRecordMutation, ObjectionRecordMutationVariables>;
export const ObjectionWithdrawDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ObjectionWithdraw"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ObjectionInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"objectionWithdraw"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"scope"}}]}},{"kind":"Field","name":{"kind":"Name","value":"replayed"}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<ObjectionWithdrawMutation, ObjectionWithdrawMutationVariables>;
export const ObjectionsImportDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ObjectionsImport"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ObjectionsImportInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"objectionsImport"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"importedCount"}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<ObjectionsImportMutation, ObjectionsImportMutationVariables>;
export const ErasureRequestDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ErasureRequest"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ErasureRequestInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"erasureRequest"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"erasedAt"}},{"kind":"Field","name":{"kind":"Name","value":"handle"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"birthDate"}},{"kind":"Field","name":{"kind":"Name","value":"country"}}]}},{"kind":"Field","name":{"kind":"Name","value":"erasedContentCount"}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<ErasureRequestMutation, ErasureRequestMutationVariables>;
export const ContentIngestDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ContentIngest"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ContentIngestInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"contentIngest"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"items"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"contentHash"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdCount"}},{"kind":"Field","name":{"kind":"Name","value":"updatedCount"}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<ContentIngestMutation, ContentIngestMutationVariables>;
export const DatasetRequestDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DatasetRequest"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DatasetRequestInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"datasetRequest"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"dataset"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DatasetFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatasetFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Dataset"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"snapshotAt"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"candidateCount"}},{"kind":"Field","name":{"kind":"Name","value":"manifestDigest"}},{"kind":"Field","name":{"kind":"Name","value":"exclusions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"count"}}]}},{"kind":"Field","name":{"kind":"Name","value":"policy"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]}}]} as unknown as DocumentNode<DatasetRequestMutation, DatasetRequestMutationVariables>;
export const DatasetDeriveDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DatasetDerive"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DatasetDeriveInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"datasetDerive"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"dataset"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DatasetFields"}},{"kind":"Field","name":{"kind":"Name","value":"parents"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatasetFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Dataset"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"snapshotAt"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"candidateCount"}},{"kind":"Field","name":{"kind":"Name","value":"manifestDigest"}},{"kind":"Field","name":{"kind":"Name","value":"exclusions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"count"}}]}},{"kind":"Field","name":{"kind":"Name","value":"policy"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]}}]} as unknown as DocumentNode<DatasetDeriveMutation, DatasetDeriveMutationVariables>;
export const DatasetRemediateDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DatasetRemediate"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DatasetRemediateInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"datasetRemediate"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"dataset"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DatasetFields"}},{"kind":"Field","name":{"kind":"Name","value":"parents"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatasetFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Dataset"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"snapshotAt"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"candidateCount"}},{"kind":"Field","name":{"kind":"Name","value":"manifestDigest"}},{"kind":"Field","name":{"kind":"Name","value":"exclusions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"count"}}]}},{"kind":"Field","name":{"kind":"Name","value":"policy"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]}}]} as unknown as DocumentNode<DatasetRemediateMutation, DatasetRemediateMutationVariables>;
export const TrainingRunRecordDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"TrainingRunRecord"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"TrainingRunRecordInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"trainingRunRecord"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"trainingRun"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"reviewStatus"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<TrainingRunRecordMutation, TrainingRunRecordMutationVariables>;
export const EligibilityForIdsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"EligibilityForIds"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"ids"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"eligibility"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"itemIds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"ids"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"itemId"}},{"kind":"Field","name":{"kind":"Name","value":"found"}},{"kind":"Field","name":{"kind":"Name","value":"eligible"}},{"kind":"Field","name":{"kind":"Name","value":"excluded"}},{"kind":"Field","name":{"kind":"Name","value":"reasons"}},{"kind":"Field","name":{"kind":"Name","value":"item"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}},{"kind":"Field","name":{"kind":"Name","value":"policy"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]}}]}}]} as unknown as DocumentNode<EligibilityForIdsQuery, EligibilityForIdsQueryVariables>;
export const LineageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Lineage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"dir"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"LineageDirection"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"depth"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"lineage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"nodeId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"direction"},"value":{"kind":"Variable","name":{"kind":"Name","value":"dir"}}},{"kind":"Argument","name":{"kind":"Name","value":"depth"},"value":{"kind":"Variable","name":{"kind":"Name","value":"depth"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"depth"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"upstreamId"}},{"kind":"Field","name":{"kind":"Name","value":"downstreamId"}},{"kind":"Field","name":{"kind":"Name","value":"type"}}]}},{"kind":"Field","name":{"kind":"Name","value":"truncated"}}]}}]}}]} as unknown as DocumentNode<LineageQuery, LineageQueryVariables>;
export const PolicyPublishDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"PolicyPublish"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"PolicyPublishInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"policyPublish"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"policy"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<PolicyPublishMutation, PolicyPublishMutationVariables>;
export const UsersIngestDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UsersIngest"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UsersIngestInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"usersIngest"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"country"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdCount"}},{"kind":"Field","name":{"kind":"Name","value":"updatedCount"}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<UsersIngestMutation, UsersIngestMutationVariables>;