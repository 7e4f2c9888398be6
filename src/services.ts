import { CorpusGate } from './common/corpus-gate';
import { AccessService } from './modules/access';
import { AuditService } from './modules/audit';
import { ConsentService } from './modules/consent';
import { ContentService } from './modules/content';
import { DatasetService } from './modules/datasets';
import { datasetLineage, LineageService } from './modules/lineage';
import { EligibilityService } from './modules/eligibility';
import { PolicyService } from './modules/policies';
import { UserService } from './modules/users';
import type { Metrics } from './common/metrics';

/**
 * The application's services: stateless, shared by all requests (state lives in the request context). `metrics` times
 * what they do (the server's; the CLI has none).
 */
export function createServices(metrics?: Pick<Metrics, 'datasetBuildTimer'>) {
  /** Bounds whole-corpus evaluations at once, per role (process-wide state, shared by every request). */
  const corpus = new CorpusGate();
  const access = new AccessService();
  const policies = new PolicyService();
  const content = new ContentService();
  const eligibility = new EligibilityService(policies, corpus);
  const datasets = new DatasetService(access, eligibility, corpus, datasetLineage, metrics);
  const users = new UserService(content);
  return {
    access,
    audit: new AuditService(),
    users,
    content,
    policies,
    eligibility,
    consent: new ConsentService(eligibility, users),
    datasets,
    lineage: new LineageService(access, datasets, corpus),
    corpus,
  };
}

export type Services = ReturnType<typeof createServices>;
