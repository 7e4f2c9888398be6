import crypto from 'node:crypto';
import { DEMO_SPEC } from '../modules/seed/demo';

/** Ids of the demo data set (deterministic), so that the examples run as they are on a fresh `npm start`. */
const demoId = (kind: 'u' | 'c', n: number) => {
  const h = crypto.createHash('md5').update(`${DEMO_SPEC.prefix}${kind}:${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export interface ExampleTab {
  title: string;
  query: string;
  variables: string;
}

const vars = (v: Record<string, unknown>) => JSON.stringify(v, null, 2);

/** Ready operations for privacy staff, ML teams and internal tools (one IDE tab each). */
export function exampleTabs(): ExampleTab[] {
  const person = demoId('u', 7);
  const items = [demoId('c', 1), demoId('c', 2), demoId('c', 3)];
  return [
    {
      title: 'Privacy: record an objection',
      query: `# Privacy staff (PRIVACY_OFFICER token in the Headers tab).
# Record an objection; replaying the same idempotencyKey returns the same event.
mutation RecordObjection($userId: ID!) {
  objectionRecord(input: { userId: $userId, scope: ALL_AI_TRAINING, channel: OBJECTION_FORM, idempotencyKey: "form-0001" }) {
    event { id type scope effectiveAt recordedAt channel actor }
    replayed
    userErrors { code message field }
  }
}

# Withdraw it again (NOTHING_TO_WITHDRAW when none is in force).
mutation WithdrawObjection($userId: ID!) {
  objectionWithdraw(input: { userId: $userId, scope: ALL_AI_TRAINING, channel: PRIVACY_STAFF }) {
    event { id type scope effectiveAt }
    userErrors { code message field }
  }
}

query ConsentState($userId: ID!) {
  consentState(userId: $userId) { objectedScopes scopes { scope objected decidedBy { type effectiveAt } } }
  consentHistory(userId: $userId) { id type scope effectiveAt recordedAt channel }
}`,
      variables: vars({ userId: person }),
    },
    {
      title: 'Privacy: explain eligibility',
      query: `# Why is an item (not) eligible, now and at a past instant? Every reason that applies is listed.
query Explain($ids: [ID!]!) {
  now: eligibility(itemIds: $ids, policyKey: "eu-ai-training") { itemId eligible excluded reasons item { kind platform language } }
  lastYear: eligibility(itemIds: $ids, policyKey: "eu-ai-training", asOf: "2025-11-01T00:00:00Z") { itemId eligible reasons }
}

# What would the policy exclude, by reason?
query Report {
  eligibilityReport(policyKey: "eu-ai-training") { mode evaluated eligible excluded reasons { reason count } }
}`,
      variables: vars({ ids: items }),
    },
    {
      title: 'Privacy: where did a person\'s data go?',
      query: `query Footprint($userId: ID!) {
  subjectFootprint(userId: $userId) {
    contentCount
    datasets { itemCount dataset { id name version status taint { tainted taintedCount } } }
    trainingRuns { viaDatasetIds trainingRun { id modelName modelVersion reviewStatus } }
  }
}`,
      variables: vars({ userId: person }),
    },
    {
      title: 'ML: request a dataset and page its members',
      query: `# ML teams (ML_ENGINEER token). The server computes membership now; you never send member ids.
mutation RequestDataset {
  datasetRequest(input: { name: "assistant-tuning", policyKey: "eu-ai-training", purpose: "assistant tone tuning",
                          filters: { platforms: [FACEBOOK, INSTAGRAM], kinds: [POST, COMMENT] }, sample: { rate: 0.5, seed: 42 } }) {
    dataset { id name version snapshotAt memberCount manifestDigest exclusions { reason count } }
    userErrors { code message field }
  }
}

# Paste the dataset id into the variables, then page with \`after: endCursor\`.
query Members($id: ID!, $after: String) {
  dataset(id: $id) {
    name version memberCount taint { tainted }
    members(first: 20, after: $after) { pageInfo { hasNextPage endCursor } edges { node { itemId contentHash item { text language } } } }
  }
}`,
      variables: vars({ id: '<dataset id from RequestDataset>', after: null }),
    },
    {
      title: 'Tools: lineage',
      query: `# Internal tools (LINEAGE_READER token): upstream and downstream of a dataset or a training run.
query Lineage($id: ID!) {
  lineage(nodeId: $id, direction: BOTH, depth: 5) {
    truncated
    nodes { id kind label depth status }
    edges { upstreamId downstreamId type transformation }
  }
}`,
      variables: vars({ id: '<dataset or training run id>' }),
    },
  ];
}
