import { parse, type OperationDefinitionNode } from 'graphql';
import { buildSchema } from '../../src/schema';
import { queryReads } from '../../src/common/reads';
import { servedByReplica } from '../../src/http/plugins/replica-routing';

const route = (source: string) => {
  const document = parse(source);
  return servedByReplica(document.definitions[0] as OperationDefinitionNode, document) ? 'replica' : 'primary';
};

describe('replica routing, declared on the resolvers', () => {
  it('classifies every Query field with @Reads (a new query does not pass until it says where it may read)', () => {
    const fields = Object.keys(buildSchema().getQueryType()!.getFields()).sort();
    expect(fields.length).toBeGreaterThan(0);
    expect([...queryReads().keys()].sort()).toEqual(fields);
  });

  it('sends lag-tolerant reads to the replica and everything that must see the latest write to the primary', () => {
    const reads = Object.fromEntries(queryReads());
    expect(
      Object.keys(reads)
        .filter((f) => reads[f] === 'replica')
        .sort(),
    ).toEqual([
      'dataset',
      'datasets',
      'eligibility',
      'eligibilityReport',
      'eligibleContent',
      'lineage',
      'policies',
      'policy',
      'subjectFootprint',
      'trainingRun',
      'trainingRuns',
    ]);
    expect(route('{ datasets { nodes { id } } policies { key } }')).toBe('replica');
    expect(route('{ __typename __schema { queryType { name } } }')).toBe('replica');
    expect(route('{ datasets { nodes { id } } consentHistory(userId: "x") { id } }')).toBe('primary');
    expect(route('{ viewer { subject } }')).toBe('primary');
    expect(route('mutation { __typename }')).toBe('primary');
  });

  it('serves a document that hands out text or PII anywhere from the primary (eligibleContent included)', () => {
    expect(route('{ eligibleContent(policyKey: "p") { nodes { id contentHash } } }')).toBe('replica');
    expect(route('{ eligibleContent(policyKey: "p") { nodes { id text } } }')).toBe('primary');
    expect(route('{ subjectFootprint(userId: "u") { user { email } } }')).toBe('primary');
    expect(route('query { dataset(id: "d") { id ...F } } fragment F on Dataset { name handle: name birthDate: name }')).toBe('replica');
    expect(route('query { dataset(id: "d") { id ...F } } fragment F on Dataset { handle }')).toBe('primary');
  });
});
