// Sliding-window limits kept in the database, so every instance sees the same
// counts. A rule with limit 0 is off.
import { RateLimited } from './errors.js';
import type { RateLimitRepository } from './ports.js';

export interface RateLimitRule {
  bucket: string;
  limit: number;
  windowSeconds: number;
}

export interface RateLimitSettings {
  loginFailuresPerEmail: RateLimitRule;
  loginFailuresPerAddress: RateLimitRule;
  registrationsPerAddress: RateLimitRule;
}

export function rateLimitSettings(values: {
  loginMaxFailuresPerEmail: number;
  loginMaxFailuresPerAddress: number;
  loginFailureWindowSeconds: number;
  registrationsPerAddress: number;
}): RateLimitSettings {
  return {
    loginFailuresPerEmail: {
      bucket: 'login_failure_email',
      limit: values.loginMaxFailuresPerEmail,
      windowSeconds: values.loginFailureWindowSeconds,
    },
    loginFailuresPerAddress: {
      bucket: 'login_failure_address',
      limit: values.loginMaxFailuresPerAddress,
      windowSeconds: values.loginFailureWindowSeconds,
    },
    registrationsPerAddress: { bucket: 'registration_address', limit: values.registrationsPerAddress, windowSeconds: 3600 },
  };
}

/** Throws RateLimited when any of the (rule, key) pairs has reached its limit. */
export async function refuseIfLimited(
  repository: RateLimitRepository,
  checks: [RateLimitRule, string][],
  nowMs: number,
): Promise<void> {
  let retryAfterSeconds = 0;
  for (const [rule, key] of checks) {
    if (rule.limit === 0) continue;
    const windowMs = rule.windowSeconds * 1000;
    const { count, oldestMs } = await repository.countSince(rule.bucket, key, nowMs - windowMs);
    if (count >= rule.limit && oldestMs !== undefined) {
      // Allowed again once the oldest counted event leaves the window.
      retryAfterSeconds = Math.max(retryAfterSeconds, Math.ceil((oldestMs + windowMs - nowMs) / 1000));
    }
  }
  if (retryAfterSeconds > 0) throw new RateLimited(retryAfterSeconds);
}

/** Counts one event; returns true when this event reached the limit. */
export async function countEvent(
  repository: RateLimitRepository,
  rule: RateLimitRule,
  key: string,
  nowMs: number,
): Promise<boolean> {
  if (rule.limit === 0) return false;
  await repository.insert(rule.bucket, key, nowMs);
  const { count } = await repository.countSince(rule.bucket, key, nowMs - rule.windowSeconds * 1000);
  return count === rule.limit;
}

/** The longest window any rule keeps events for. */
export function longestWindowSeconds(settings: RateLimitSettings): number {
  return Math.max(...Object.values(settings).map((rule) => rule.windowSeconds));
}
