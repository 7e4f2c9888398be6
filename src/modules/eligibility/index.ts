/**
 * The eligibility module: the rules (eligibility.rules, defined once) and their two renderings, verdicts with reasons
 * (the explain path) and eligible sets, counts and reports (the bulk path).
 */
export { EligibilityService, MAX_ELIGIBILITY_IDS } from './eligibility.service';
export { EligibilityResolver } from './eligibility.resolver';
export * from './eligibility.rules';
export { eligibleItemsSql, VERDICTS_SQL } from './eligibility.store';
export * from './eligibility.types';
