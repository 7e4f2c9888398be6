import fs from 'node:fs';
import { GraphQLNamedType, isEnumType, isInputObjectType, isInterfaceType, isObjectType, isIntrospectionType } from 'graphql';
import { buildSchema, printSdl, SCHEMA_FILE } from '../../src/schema';
import { auditedMutations } from '../../src/modules/audit/audited-mutation';

describe('schema.graphql', () => {
  it('is up to date with the code (run `npm run schema:emit`)', () => {
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(printSdl());
  });

  it('describes every type and field', () => {
    const missing: string[] = [];
    const schema = buildSchema();
    for (const type of Object.values(schema.getTypeMap()) as GraphQLNamedType[]) {
      if (isIntrospectionType(type) || type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name))
        continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
        }
      }
      if (isEnumType(type)) {
        // Enum values are self-describing codes; the enum itself carries the description.
      }
    }
    expect(missing).toEqual([]);
  });

  it('audits every mutation: each Mutation field is declared with @AuditedMutation', () => {
    const fields = Object.keys(buildSchema().getMutationType()!.getFields()).sort();
    expect(fields.length).toBeGreaterThan(0);
    expect([...auditedMutations].sort()).toEqual(fields);
  });
});
