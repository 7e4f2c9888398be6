/**
 * The audit module: the hash-chained log of every mutation (written by the AuditedMutation wrapper inside each
 * mutation's transaction), the ledger rows each event binds, and signed checkpoints.
 */
export { AuditService, appendMutationEvent } from './audit.service';
export { AuditResolver } from './audit.resolver';
export { AuditedMutation, auditedMutations, LONG_RUNNING_OPERATIONS, runAudited, type MutationOutcome } from './audited-mutation';
export { bindLedgerRows } from './ledger-binding';
export { utcMicros } from './audit.store';
export { every } from './checkpoints';
