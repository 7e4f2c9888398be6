import { Role } from '../../common/tokens';

/** Roles that may read dataset metadata (ML engineers: their own datasets), the lineage between them and their cards. */
export const DATASET_READERS = [Role.ML_ENGINEER, Role.PRIVACY_OFFICER, Role.AUDITOR, Role.LINEAGE_READER];

/** Roles that may export a dataset's lines (auditors get them without text). */
export const DATASET_EXPORTERS = [Role.ML_ENGINEER, Role.AUDITOR];
