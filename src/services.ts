import { CorpusGate } from './common/corpus-gate';
import { AccessService } from './modules/access/access.service';
import { AuditService } from './modules/audit/audit.service';
import { ConsentService } from './modules/consent/consent.service';
import { ContentService } from './modules/content/content.service';
import { DatasetService } from './modules/datasets/dataset.service';
import { LineageService } from './modules/lineage/lineage.service';
import { EligibilityService } from './modules/eligibility/eligibility.service';
import { PolicyService } from './modules/policies/policy.service';
import { UserService } from './modules/users/user.service';
import type { Metrics } from './common/metrics';

/**
 * The application's services: stateless, shared by all requests (state lives in the request context). `metrics` times
 * what they do (the server's; the CLI has none).
 */
export function createServices(metrics?: Pick<Metrics, 'datasetBuildTimer'>) {
  return {
    access: new AccessService(),
    audit: new AuditService(),
    users: new UserService(),
    content: new ContentService(),
    policies: new PolicyService(),
    eligibility: new EligibilityService(),
    consent: new ConsentService(),
    datasets: new DatasetService(metrics),
    lineage: new LineageService(),
    /** Bounds whole-corpus evaluations at once, per role (process-wide state, shared by every request). */
    corpus: new CorpusGate(),
  };
}

export type Services = ReturnType<typeof createServices>;
