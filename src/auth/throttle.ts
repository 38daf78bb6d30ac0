import { recordEvent } from "../audit/record";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { accountThrottledEmail } from "../email/templates";
import { AppError } from "../errors";
import { randomToken } from "../lib/crypto";
import type { User } from "../storage/types";
import { hashToken } from "./tokens";

/** Consecutive failures before an account is throttled. */
export const THROTTLE_AFTER = 10;
const MAX_DELAY_MS = 15 * 60_000;

/** 1, 2, 4, … minutes for each failure past the threshold, capped at 15 minutes. Never a permanent lock. */
export function throttleDelayMs(failures: number): number {
  if (failures < THROTTLE_AFTER) return 0;
  return Math.min(MAX_DELAY_MS, 60_000 * 2 ** Math.min(failures - THROTTLE_AFTER, 10));
}

function retryAfter(until: Date, now: Date): Record<string, string> {
  return { "Retry-After": String(Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000))) };
}

/** A throttled account answers 429 even to the right password (the check runs before verification). */
export function assertNotThrottled(user: User | null, now: Date): void {
  const until = user?.loginThrottledUntil;
  if (until && until.getTime() > now.getTime()) {
    throw new AppError("rate_limited", {
      detail: "Too many failed sign-in attempts; try again later.",
      headers: retryAfter(until, now),
    });
  }
}

export async function recordLoginFailure(deps: Deps, meta: RequestMeta, user: User): Promise<void> {
  const now = deps.now();
  const failures = await deps.db.users.addLoginFailure(user.id, now);
  const delay = throttleDelayMs(failures);
  if (delay === 0) return;
  const until = new Date(now.getTime() + delay);
  await deps.db.users.setLoginThrottle(user.id, until);
  recordEvent(deps, meta, {
    action: "login_throttled",
    userId: user.id,
    metadata: { failures, until: until.toISOString() },
  });
  // One email per throttle episode, with a reset link, so the owner can act.
  if (await deps.db.users.markLockoutNotified(user.id, now)) {
    const token = randomToken(32);
    await deps.db.tokens.create({
      tokenHash: await hashToken(token),
      purpose: "password_reset",
      userId: user.id,
      expiresAt: new Date(now.getTime() + 3_600_000),
      now,
    });
    deps.defer(deps.email.send(accountThrottledEmail(deps.config, user.email, token)), "throttle email");
  }
}

export async function clearLoginFailures(deps: Deps, user: User): Promise<void> {
  if (user.failedLoginCount > 0 || user.loginThrottledUntil !== null)
    await deps.db.users.resetLoginFailures(user.id);
}

/** At most 3 verification/reset emails per address per hour; silent (callers still answer 202). */
export async function allowEmailTo(deps: Deps, email: string): Promise<boolean> {
  const key = `email:${await hashToken(email.toLowerCase())}`;
  const { count } = await deps.db.counters.increment(key, 3_600_000, deps.now());
  return count <= 3;
}
