/** The users module: people of the platform (ingest, reads, attribute history) and their erasure (GDPR Art. 17). */
export { type AuthoredContent, UserService } from './user.service';
export { UserResolver, USER_READERS } from './user.resolver';
export { USER_COLUMNS } from './user.store';
export * from './user.types';
