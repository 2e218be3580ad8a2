import type { RecoveryService } from '../../domain/recovery.js';
import type { OperationHandlers } from '../contract.js';

export function recoveryHandlers(
  recovery: RecoveryService,
  promised: (work: Promise<void>) => void,
): Pick<OperationHandlers, 'requestPasswordReset' | 'resetPassword'> {
  return {
    async requestPasswordReset({ body, origin }) {
      // The link is made after the answer (see RecoveryService.requestReset).
      const { done } = await recovery.requestReset(body.email, origin);
      promised(done);
      return { status: 202, body: { message: 'If an account has this email, a reset link is on its way' } };
    },

    async resetPassword({ body, origin }) {
      await recovery.resetPassword(body.token, body.password, origin);
      return { status: 200, body: { message: 'Password has been reset' } };
    },
  };
}
