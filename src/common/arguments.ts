import {
  defaultFieldResolver,
  getNamedType,
  getNullableType,
  GraphQLID,
  GraphQLInputType,
  GraphQLNamedInputType,
  GraphQLResolveInfo,
  GraphQLString,
  isInputObjectType,
  isListType,
  isObjectType,
  type GraphQLSchema,
} from 'graphql';
import { Problems } from './errors';
import { MAX_TEXT } from './validate';

/** Longest value an `ID` argument may have (ids are UUIDs; this leaves room for any key a client may try). */
export const MAX_ID_LENGTH = 200;
/** Longest value any `String` argument may have; free-text fields have smaller maxima of their own (README "Limits"). */
export const MAX_STRING_LENGTH = MAX_TEXT;

/**
 * False when a string holds a UTF-16 surrogate without its partner: not a Unicode character, so no valid text (PostgreSQL
 * could not store it). String.prototype.isWellFormed is ES2024, native from Node 20 (package.json engines).
 */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** The one rule for a string argument: its problem, or undefined when it is fine. */
function stringProblem(value: string, max: number): string | undefined {
  if (value.length > max) return `is longer than ${max} characters${max === MAX_ID_LENGTH ? ' (ids are at most that long)' : ''}`;
  if (value.includes('\u0000')) return 'holds a NUL character (U+0000), which no text may hold';
  if (!wellFormed(value)) return 'holds an unpaired UTF-16 surrogate: not valid Unicode text';
  return undefined;
}

/** True when a value of `type` breaks no rule: the fast pass, without field paths (a 100,000-row import is checked in a few ms). */
type Valid = (value: unknown) => boolean;
const validators = new WeakMap<GraphQLInputType, Valid>();

function validator(type: GraphQLInputType): Valid {
  const known = validators.get(type);
  if (known) return known;
  const t = getNullableType(type);
  let valid: Valid;
  if (isListType(t)) {
    let item: Valid | undefined;
    valid = (v) => {
      if (!Array.isArray(v)) return true;
      item ??= validator(t.ofType);
      for (let i = 0; i < v.length; i++) if (v[i] != null && !item(v[i])) return false;
      return true;
    };
  } else if (isInputObjectType(t)) {
    let fields: [string, Valid][] | undefined;
    valid = (v) => {
      // Resolved on first use: input types may refer to themselves.
      fields ??= Object.values(t.getFields())
        .filter((f) => holdsStrings(f.type))
        .map((f) => [f.name, validator(f.type)]);
      const o = v as Record<string, unknown>;
      for (const [name, check] of fields) if (o[name] != null && !check(o[name])) return false;
      return true;
    };
  } else if (t === GraphQLID || t === GraphQLString) {
    const max = t === GraphQLID ? MAX_ID_LENGTH : MAX_STRING_LENGTH;
    valid = (v) => typeof v !== 'string' || stringProblem(v, max) === undefined;
  } else {
    valid = () => true;
  }
  validators.set(type, valid);
  return valid;
}

/** Whether a value of the type can hold a String or ID anywhere (enums, numbers and dates need no check). */
function holdsStrings(type: GraphQLInputType, seen = new Set<GraphQLInputType>()): boolean {
  const t = getNamedType(type) as GraphQLNamedInputType;
  if (t === GraphQLID || t === GraphQLString) return true;
  if (!isInputObjectType(t) || seen.has(t)) return false;
  seen.add(t);
  return Object.values(t.getFields()).some((f) => holdsStrings(f.type, seen));
}

/** The slow pass, run only when the fast one found something: every problem, with its field path. */
function report(problems: Problems, type: GraphQLInputType, value: unknown, field: string): void {
  if (value == null) return;
  const t = getNullableType(type);
  if (isListType(t)) {
    if (Array.isArray(value)) value.forEach((v, i) => report(problems, t.ofType, v, `${field}[${i}]`));
  } else if (isInputObjectType(t)) {
    const fields = t.getFields();
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (fields[name]) report(problems, fields[name].type, v, field ? `${field}.${name}` : name);
    }
  } else if (typeof value === 'string' && (t === GraphQLID || t === GraphQLString)) {
    const problem = stringProblem(value, t === GraphQLID ? MAX_ID_LENGTH : MAX_STRING_LENGTH);
    if (problem) problems.add(field, `${field.split('.').pop()} ${problem}`);
  }
}

/**
 * Checks every string in a field's arguments, whatever the field, against what no value may be: NUL characters,
 * unpaired surrogates, ids over MAX_ID_LENGTH and strings over MAX_STRING_LENGTH. Throws one BAD_USER_INPUT naming
 * each offending argument (`reason`, `users[3].handle`; a mutation's `input.` is left out, as in its `userErrors`).
 */
export function checkArguments(info: GraphQLResolveInfo, args: Record<string, unknown>): void {
  const definition = info.parentType.getFields()[info.fieldName];
  if (!definition?.args.length) return;
  if (definition.args.every((arg) => args[arg.name] == null || validator(arg.type)(args[arg.name]))) return;
  const problems = new Problems(100);
  for (const arg of definition.args) report(problems, arg.type, args[arg.name], arg.name === 'input' ? '' : arg.name);
  problems.throwIfAny();
}

/**
 * Runs checkArguments before the resolver of every field that takes arguments, outside mutations (left to
 * @AuditedMutation, which runs the same check and reports a refusal in the payload's `userErrors` like any other).
 * Wrapped into the built schema rather than declared as a type-graphql global middleware: a global middleware wraps
 * every field, the argument-less ones too (each scalar of each row of a list becomes an async middleware chain: about
 * 1 ms of a 100-verdict answer), and only fields with arguments have anything to check. It runs before the field's
 * own authorization, so a malformed string is refused as BAD_USER_INPUT whoever sends it.
 */
export function checkingArguments(schema: GraphQLSchema): GraphQLSchema {
  const mutation = schema.getMutationType();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type === mutation || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (!field.args.length) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => {
        checkArguments(info, args);
        return resolve(source, args, context, info);
      };
    }
  }
  return schema;
}
