/** The datasets module: immutable versions of training datasets, their members, taint, build verification and export. */
export { DatasetService, type DatasetLineage } from './dataset.service';
export { DATASET_COLUMNS } from './dataset.store';
export * from './dataset.types';
export { DATASET_READERS } from './dataset.roles';
export * from './dataset.routes';
export { EXPORT_SQL, exportStream } from './dataset.export.store';
