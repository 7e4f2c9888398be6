/** The content module: items of the platform, their visibility and label history, and who may read their text. */
export { ContentService, checkContentFilter } from './content.service';
export { ContentResolver, CONTENT_READERS } from './content.resolver';
export { CONTENT_COLUMNS, contentFilterSql, lockContentIdentity } from './content.store';
export * from './content.types';
