/** The consent module: the append-only ledger of objections and withdrawals (GDPR Art. 21), single and bulk. */
export { ConsentService, MAX_IMPORT_ROWS, type ImportOptions } from './consent.service';
export { ConsentResolver } from './consent.resolver';
export { EVENT_COLUMNS } from './consent.store';
export * from './consent.import';
export * from './consent.types';
