import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config';
import { createContext, type RequestContext } from '../../context';
import type { Services } from '../../services';
import { every } from '../../modules/audit';

/** The service's own audit checkpoints every AUDIT_CHECKPOINT_INTERVAL (none when 0); a refusal is logged as an error. */
export function periodicCheckpoints(config: Config, dataSource: DataSource, services: Services, log: Logger): { stop(): void } {
  if (!config.auditCheckpointIntervalSeconds) return { stop: () => undefined };
  return every(config.auditCheckpointIntervalSeconds, async () => {
    const ctx = createContext({ dataSource, services, config, log }, { subject: 'system:audit-checkpoint', roles: [] });
    try {
      const outcome = await services.audit.checkpoint(ctx);
      if (outcome.created)
        log.info({ lastEventId: outcome.checkpoint!.lastEventId, eventCount: outcome.checkpoint!.eventCount }, 'audit checkpoint signed');
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'audit checkpoint refused');
    }
  });
}

/** Stops the periodic checkpoints when the server stops (apollo.stop()). */
export const stopsWithServer = (checkpoints: { stop(): void }): ApolloServerPlugin<RequestContext> => ({
  async serverWillStart() {
    return {
      async serverWillStop() {
        checkpoints.stop();
      },
    };
  },
});
