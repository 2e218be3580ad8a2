import type { Readiness } from '../../storage/database.js';
import type { OperationHandlers } from '../contract.js';

/** What readiness reports: the database's state, or that the instance is shutting down. */
export type ReadinessProbe = () => Promise<Readiness | 'shutting down'>;

export function healthHandlers(readiness: ReadinessProbe): Pick<OperationHandlers, 'checkLiveness' | 'checkReadiness'> {
  return {
    async checkLiveness() {
      return { status: 200, body: { status: 'ok' } };
    },

    async checkReadiness() {
      const state = await readiness();
      if (state === 'ready') return { status: 200, body: { status: 'ready' } };
      return { status: 503, body: { status: 'unavailable', reason: state } };
    },
  };
}
