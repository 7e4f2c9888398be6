import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import { authChecker } from './common/auth';
import { checkingArguments } from './common/arguments';
import { AuditResolver } from './modules/audit';
import { ContentResolver } from './modules/content';
import { EligibilityResolver } from './modules/eligibility';
import { PolicyResolver } from './modules/policies';
import { UserResolver } from './modules/users';
import { ViewerResolver } from './modules/viewer';
import { ConsentResolver } from './modules/consent';
import { DatasetMemberResolver, DatasetResolver } from './modules/datasets/dataset.resolver';
import { LineageResolver, TrainingRunResolver } from './modules/lineage/lineage.resolver';

export const resolvers = [
  ViewerResolver,
  UserResolver,
  ContentResolver,
  PolicyResolver,
  EligibilityResolver,
  ConsentResolver,
  DatasetResolver,
  DatasetMemberResolver,
  TrainingRunResolver,
  LineageResolver,
  AuditResolver,
] as const;

let cached: GraphQLSchema | undefined;

/** The executable schema (built once per process). */
export function buildSchema(): GraphQLSchema {
  cached ??= checkingArguments(
    buildSchemaSync({
      resolvers,
      authChecker,
      authMode: 'error',
      scalarsMap: [{ type: Date, scalar: DateTimeISOResolver }],
      validate: false,
    }),
  );
  cached.getQueryType()!.description = 'Reads. Every field needs a bearer token; see each field for the roles it admits.';
  cached.getMutationType()!.description =
    'Writes. Each mutation is one transaction with its audit event; refusals come back in `userErrors`.';
  return cached;
}

export const SCHEMA_FILE = path.resolve(
  __dirname,
  '..',
  ...(__dirname.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []),
  'schema.graphql',
);

/** The SDL that is checked in as schema.graphql. */
export function printSdl(): string {
  return printSchema(lexicographicSortSchema(buildSchema())) + '\n';
}

if (require.main === module) {
  fs.writeFileSync(SCHEMA_FILE, printSdl());
  console.log(`wrote ${SCHEMA_FILE}`);
}
