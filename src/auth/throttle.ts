import { recordEvent } from "../audit/record";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { accountThrottledEmail } from "../email/templates";
import { AppError } from "../errors";
import { hmacBase64url, randomToken } from "../lib/crypto";
import type { User } from "../storage/types";
import { hashToken } from "./tokens";

/** Consecutive failures before an account is throttled. */
export const THROTTLE_AFTER = 10;
const MAX_DELAY_MS = 15 * 60_000;
/** Failures are counted in a window that starts at the first one; after it the count starts over. */
const FAILURE_WINDOW_MS = 24 * 3_600_000;
const RESET_TTL_MS = 3_600_000;

/** 1, 2, 4, … minutes for each failure past the threshold, capped at 15 minutes. Never a permanent lock. */
export function throttleDelayMs(failures: number): number {
  if (failures < THROTTLE_AFTER) return 0;
  return Math.min(MAX_DELAY_MS, 60_000 * 2 ** Math.min(failures - THROTTLE_AFTER, 10));
}

/**
 * The throttle state lives in the relational counters (strongly consistent), keyed by an HMAC of the
 * lower-cased email rather than by the users row: an unknown address is throttled exactly like a known
 * one, so 429s reveal nothing about which accounts exist, and the key holds no readable address.
 */
async function throttleKeys(deps: Deps, email: string) {
  const id = await hmacBase64url(deps.config.SECRET_KEY, "login-throttle", email.trim().toLowerCase());
  return { failures: `login-fail:${id}`, lock: `login-lock:${id}`, notified: `login-notified:${id}` };
}

export interface LoginThrottle {
  /** Failures counted in the current window (0 when none). */
  failures: number;
  lockedUntil: Date | null;
}

/**
 * The account of `email` and its throttle state, read in one round trip before the hash. The throttle is
 * read for unknown addresses too, so both cases cost the same.
 */
export async function readAccountAndThrottle(
  deps: Deps,
  email: string,
): Promise<{ user: User | null; throttle: LoginThrottle }> {
  const keys = await throttleKeys(deps, email);
  const {
    user,
    counters: [failures, lock],
  } = await deps.db.users.findByEmailWithCounters(email, [keys.failures, keys.lock], deps.now());
  return { user, throttle: { failures: failures?.count ?? 0, lockedUntil: lock?.resetAt ?? null } };
}

/** A throttled email answers 429 even to the right password (the check runs before verification). */
export function assertNotThrottled(throttle: LoginThrottle, now: Date): void {
  if (!throttle.lockedUntil) return;
  const seconds = Math.max(1, Math.ceil((throttle.lockedUntil.getTime() - now.getTime()) / 1000));
  throw new AppError("rate_limited", {
    detail: "Too many failed sign-in attempts; try again later.",
    headers: { "Retry-After": String(seconds) },
  });
}

/** Counts a failed sign-in for `email`; `user` is its account, when there is one. */
export async function recordLoginFailure(
  deps: Deps,
  meta: RequestMeta,
  email: string,
  user: User | null,
): Promise<void> {
  const now = deps.now();
  const keys = await throttleKeys(deps, email);
  const { count: failures } = await deps.db.counters.increment(keys.failures, FAILURE_WINDOW_MS, now);
  const delay = throttleDelayMs(failures);
  if (delay === 0) return;
  // Only reached when not throttled (assertNotThrottled ran first), so the lock window starts now.
  const { resetAt: until } = await deps.db.counters.increment(keys.lock, delay, now);
  recordEvent(deps, meta, {
    action: "login_throttled",
    userId: user?.id ?? null,
    metadata: { failures, until: until.toISOString() },
  });
  if (!user) return;
  // One email per episode (the first throttle since the last reset, at most one a day), with a reset link,
  // so the owner can act: the reset also lifts the throttle.
  const { count: notices } = await deps.db.counters.increment(keys.notified, FAILURE_WINDOW_MS, now);
  if (notices !== 1) return;
  const token = randomToken(32);
  await deps.db.tokens.create({
    tokenHash: await hashToken(token),
    purpose: "password_reset",
    userId: user.id,
    expiresAt: new Date(now.getTime() + RESET_TTL_MS),
    now,
  });
  deps.defer(deps.email.send(accountThrottledEmail(deps.config, user.email, token)), "throttle email");
}

/** Ends a throttle episode: after a successful sign-in or a password reset. */
export async function clearLoginThrottle(deps: Deps, email: string): Promise<void> {
  const keys = await throttleKeys(deps, email);
  await deps.db.counters.reset(keys.failures, keys.lock, keys.notified);
}

/** At most 3 verification/reset emails per address per hour; silent (callers still answer 202). */
export async function allowEmailTo(deps: Deps, email: string): Promise<boolean> {
  const key = `email:${await hashToken(email.toLowerCase())}`;
  const { count } = await deps.db.counters.increment(key, 3_600_000, deps.now());
  return count <= 3;
}
