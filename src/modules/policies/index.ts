/** The policies module: immutable versions of eligibility policies. */
export { PolicyService, ADULT } from './policy.service';
export { PolicyResolver } from './policy.resolver';
export { LATEST_POLICY_SQL } from './policy.store';
export * from './policy.types';
