import type { components } from '../../../generated/openapi.js';
import type { OperationHandlers } from '../contract.js';

/** What readiness reports: ready, or the documented reason it is not (the database's state, shutting down). */
export type ReadinessProbe = () => Promise<'ready' | components['schemas']['NotReady']['reason']>;

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
