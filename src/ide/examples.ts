import { Role } from '../common/tokens';
import { DEMO_DATASET_ID, demoId } from '../modules/seed';

export interface ExampleTab {
  /** What the IDE shows on the tab. */
  title: string;
  /** The role whose token the tab needs (the IDE fills one in, in development). */
  role: Role;
  /** One named operation, so that the Run button runs it without asking which. */
  query: string;
  variables: string;
}

const vars = (v: Record<string, unknown>) => JSON.stringify(v, null, 2);

/**
 * Ready operations for privacy staff, ML teams and internal tools (one IDE tab each), on the ids of the demo data set
 * (deterministic: see src/modules/seed/demo.ts), so that each runs as it is on a fresh `npm start`.
 */
export function exampleTabs(): ExampleTab[] {
  const person = demoId('u', 7);
  const items = [demoId('c', 1), demoId('c', 2), demoId('c', 3)];
  return [
    {
      title: 'Privacy: record an objection',
      role: Role.PRIVACY_OFFICER,
      query: `# Privacy staff (PRIVACY_OFFICER). Record an objection for a person of the demo data;
# replaying the same idempotencyKey returns the same event (replayed: true).
mutation RecordObjection($userId: ID!) {
  objectionRecord(input: { userId: $userId, scope: ALL_AI_TRAINING, channel: OBJECTION_FORM, idempotencyKey: "form-0001" }) {
    event { id type scope effectiveAt recordedAt channel actor }
    replayed
    userErrors { code message field }
  }
}`,
      variables: vars({ userId: person }),
    },
    {
      title: 'Privacy: consent state and history',
      role: Role.PRIVACY_OFFICER,
      query: `# What is in force for a person now, and every consent event recorded for them.
query ConsentState($userId: ID!) {
  consentState(userId: $userId) { objectedScopes scopes { scope objected decidedBy { type effectiveAt } } }
  consentHistory(userId: $userId) { id type scope effectiveAt recordedAt channel }
}`,
      variables: vars({ userId: person }),
    },
    {
      title: 'Privacy: withdraw an objection',
      role: Role.PRIVACY_OFFICER,
      query: `# Withdraw the objection again (userErrors: NOTHING_TO_WITHDRAW when none is in force).
mutation WithdrawObjection($userId: ID!) {
  objectionWithdraw(input: { userId: $userId, scope: ALL_AI_TRAINING, channel: PRIVACY_STAFF }) {
    event { id type scope effectiveAt }
    userErrors { code message field }
  }
}`,
      variables: vars({ userId: person }),
    },
    {
      title: 'Privacy: explain eligibility',
      role: Role.PRIVACY_OFFICER,
      query: `# Why is an item (not) eligible, now and at a past instant? Every reason that applies is listed.
query Explain($ids: [ID!]!) {
  now: eligibility(itemIds: $ids, policyKey: "eu-ai-training") { itemId eligible excluded reasons item { kind platform language } }
  lastYear: eligibility(itemIds: $ids, policyKey: "eu-ai-training", asOf: "2025-11-01T00:00:00Z") { itemId eligible reasons }
}`,
      variables: vars({ ids: items }),
    },
    {
      title: 'Privacy: what the policy excludes',
      role: Role.PRIVACY_OFFICER,
      query: `# What would the policy exclude from the whole corpus now, by reason?
query Report {
  eligibilityReport(policyKey: "eu-ai-training") { mode evaluated eligible excluded reasons { reason count } }
}`,
      variables: '{}',
    },
    {
      title: "Privacy: where did a person's data go?",
      role: Role.PRIVACY_OFFICER,
      query: `# Every dataset and training run that holds a person's content.
query Footprint($userId: ID!) {
  subjectFootprint(userId: $userId) {
    contentCount
    datasets { itemCount dataset { id name version status taint { tainted taintedCount } } }
    trainingRuns { viaDatasetIds trainingRun { id modelName modelVersion reviewStatus } }
  }
}`,
      variables: vars({ userId: person }),
    },
    {
      title: 'ML: request a dataset',
      role: Role.ML_ENGINEER,
      query: `# ML teams (ML_ENGINEER). The server computes membership now; you never send member ids.
# cardUrl opens the dataset card in a browser tab (the IDE lists it above the editors).
mutation RequestDataset {
  datasetRequest(input: { name: "assistant-tuning", policyKey: "eu-ai-training", purpose: "assistant tone tuning",
                          filters: { platforms: [FACEBOOK, INSTAGRAM], kinds: [POST, COMMENT] }, sample: { rate: 0.5, seed: 42 } }) {
    dataset { id name version snapshotAt memberCount manifestDigest exclusions { reason count } cardUrl }
    userErrors { code message field }
  }
}`,
      variables: '{}',
    },
    {
      title: "ML: page a dataset's members",
      role: Role.ML_ENGINEER,
      query: `# The members of the demo dataset (or put the id of yours); next page: "after" = pageInfo.endCursor.
query Members($id: ID!, $after: String) {
  dataset(id: $id) {
    name version memberCount taint { tainted }
    members(first: 20, after: $after) { pageInfo { hasNextPage endCursor } edges { node { itemId contentHash item { text language } } } }
  }
}`,
      variables: vars({ id: DEMO_DATASET_ID, after: null }),
    },
    {
      title: 'Tools: lineage',
      role: Role.LINEAGE_READER,
      query: `# Internal tools (LINEAGE_READER): upstream and downstream of a dataset or a training run.
query Lineage($id: ID!) {
  lineage(nodeId: $id, direction: BOTH, depth: 5) {
    truncated
    nodes { id kind label depth status }
    edges { upstreamId downstreamId type transformation }
  }
}`,
      variables: vars({ id: DEMO_DATASET_ID }),
    },
    {
      title: 'Cards: dataset cards in the browser',
      role: Role.AUDITOR,
      query: `# Dataset cards (ML_ENGINEER, PRIVACY_OFFICER, AUDITOR, LINEAGE_READER): cardUrl is a signed link, valid
# 15 minutes, that opens the HTML card in a plain browser tab. The IDE lists the links above the editors.
query DatasetCards {
  datasets(first: 10) { edges { node { id name version status memberCount cardUrl } } }
}`,
      variables: '{}',
    },
  ];
}
