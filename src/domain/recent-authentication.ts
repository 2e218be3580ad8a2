// "Sudo mode": changes to how an account is signed into (its second factor,
// its email, and next its passkeys and linked identities) need a session
// whose user proved themself recently, by logging in or reauthenticating.
import type { Principal } from './model.js';

export class RecentAuthentication {
  constructor(
    /** REAUTH_MAX_AGE_SECONDS */
    private readonly maxAgeSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  isRecent(principal: Principal): boolean {
    return this.now() - principal.authentication.at <= this.maxAgeSeconds * 1000;
  }

  /** Until when a proof made at `atMs` counts as recent. */
  recentUntil(atMs: number): Date {
    return new Date(atMs + this.maxAgeSeconds * 1000);
  }
}
