import { CoreSchema1764460000000 } from './1764460000000-CoreSchema';
import { DefaultPolicy1764460000001 } from './1764460000001-DefaultPolicy';
import { Datasets1764460000002 } from './1764460000002-Datasets';
import { ChangeIndexes1764460000003 } from './1764460000003-ChangeIndexes';
import { DistributableKeys1764460000004 } from './1764460000004-DistributableKeys';
import { KnowledgeBySnapshot1764460000005 } from './1764460000005-KnowledgeBySnapshot';
import { AuditAnchors1764460000006 } from './1764460000006-AuditAnchors';
import { EnforceMinimumAge1764460000007 } from './1764460000007-EnforceMinimumAge';
import { CurrentState1764460000008 } from './1764460000008-CurrentState';
import { CurrentStateOnShards1764460000009 } from './1764460000009-CurrentStateOnShards';
import { BuildCandidates1764460000010 } from './1764460000010-BuildCandidates';
import { FactXids1764460000011 } from './1764460000011-FactXids';
import { RefreshLocksNoKey1764460000012 } from './1764460000012-RefreshLocksNoKey';

/** Every migration, in order. The data source runs these and nothing else (synchronize is never on). */
export const migrations = [
  CoreSchema1764460000000,
  DefaultPolicy1764460000001,
  Datasets1764460000002,
  ChangeIndexes1764460000003,
  DistributableKeys1764460000004,
  KnowledgeBySnapshot1764460000005,
  AuditAnchors1764460000006,
  EnforceMinimumAge1764460000007,
  CurrentState1764460000008,
  CurrentStateOnShards1764460000009,
  BuildCandidates1764460000010,
  FactXids1764460000011,
  RefreshLocksNoKey1764460000012,
];
