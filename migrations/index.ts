import { CoreSchema1764460000000 } from './1764460000000-CoreSchema';
import { DefaultPolicy1764460000001 } from './1764460000001-DefaultPolicy';
import { Datasets1764460000002 } from './1764460000002-Datasets';
import { ChangeIndexes1764460000003 } from './1764460000003-ChangeIndexes';
import { DistributableKeys1764460000004 } from './1764460000004-DistributableKeys';
import { AuditAnchors1764460000006 } from './1764460000006-AuditAnchors';

/** Every migration, in order. The data source runs these and nothing else (synchronize is never on). */
export const migrations = [CoreSchema1764460000000, DefaultPolicy1764460000001, Datasets1764460000002, ChangeIndexes1764460000003, DistributableKeys1764460000004, AuditAnchors1764460000006];
