import { recordEvent } from "../audit/record";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { accountThrottledEmail } from "../email/templates";
import { AppError } from "../errors";
import { hmacBase64url, randomToken } from "../lib/crypto";
import type { ThrottlePolicy, User } from "../storage/types";
import { hashToken } from "./tokens";

/** Attempts before an account is throttled. */
export const THROTTLE_AFTER = 10;
const MAX_DELAY_MS = 15 * 60_000;
/** Attempts are counted in a window that starts at the first one; after it the count starts over. */
const ATTEMPT_WINDOW_MS = 24 * 3_600_000;
const RESET_TTL_MS = 3_600_000;

/** 1, 2, 4, … minutes for each attempt from the threshold on, capped at 15 minutes. Never a permanent lock. */
export function throttleDelayMs(attempts: number): number {
  if (attempts < THROTTLE_AFTER) return 0;
  return Math.min(MAX_DELAY_MS, 60_000 * 2 ** Math.min(attempts - THROTTLE_AFTER, 10));
}

/** throttleDelayMs as data the counting statement can apply: one lock per step until the cap. */
function policy(): ThrottlePolicy {
  const locksMs: number[] = [];
  for (let n = THROTTLE_AFTER; locksMs[locksMs.length - 1] !== MAX_DELAY_MS; n++)
    locksMs.push(throttleDelayMs(n));
  return { windowMs: ATTEMPT_WINDOW_MS, threshold: THROTTLE_AFTER, locksMs };
}
const POLICY = policy();

/**
 * The throttle lives in the relational store (strongly consistent), keyed by an HMAC of the lower-cased
 * email rather than by the users row: an unknown address is throttled exactly like a known one, so 429s
 * reveal nothing about which accounts exist, and the key holds no readable address.
 */
function throttleKey(deps: Deps, email: string): Promise<string> {
  return hmacBase64url(deps.config.SECRET_KEY, "login-throttle", email.trim().toLowerCase()).then(
    (id) => `login:${id}`,
  );
}

/** An admitted password attempt: counted before the password is looked at. */
export interface PasswordAttempt {
  key: string;
  /** Attempts counted in this episode, this one included. */
  attempts: number;
  /** Set when this attempt brought the count to the threshold or past it (the lock is already on). */
  lockedUntil: Date | null;
}

/**
 * Counts a password attempt for `email` (login, password change, reauthentication) BEFORE the password
 * is evaluated, in one conditional statement that refuses a locked account: a burst of parallel guesses
 * from many IPs gets at most THROTTLE_AFTER evaluations, then 429 even for the right password.
 */
export async function admitPasswordAttempt(deps: Deps, email: string): Promise<PasswordAttempt> {
  // Shed first (503 overloaded): an attempt that will never be evaluated must not count.
  deps.hashGate.assertCapacity();
  const key = await throttleKey(deps, email);
  const now = deps.now();
  const admission = await deps.db.loginThrottle.admit(key, POLICY, now);
  if (!admission.admitted) {
    const seconds = Math.max(1, Math.ceil((admission.lockedUntil.getTime() - now.getTime()) / 1000));
    throw new AppError("rate_limited", {
      detail: "Too many failed sign-in attempts; try again later.",
      headers: { "Retry-After": String(seconds) },
    });
  }
  return { key, attempts: admission.attempts, lockedUntil: admission.lockedUntil };
}

/**
 * A counted attempt failed; `user` is the account, when there is one. When the attempt locked the
 * account, says so in the audit log and, once per episode (the attempt that reached the threshold; a
 * count reaches it once per window), emails the owner a reset link: the reset also lifts the throttle.
 */
export async function recordLoginFailure(
  deps: Deps,
  meta: RequestMeta,
  attempt: PasswordAttempt,
  user: User | null,
): Promise<void> {
  if (!attempt.lockedUntil) return;
  recordEvent(deps, meta, {
    action: "login_throttled",
    userId: user?.id ?? null,
    metadata: { failures: attempt.attempts, until: attempt.lockedUntil.toISOString() },
  });
  if (!user || attempt.attempts !== THROTTLE_AFTER) return;
  const now = deps.now();
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

/** Ends a throttle episode: after a right password or a password reset. */
export async function clearLoginThrottle(deps: Deps, email: string | PasswordAttempt): Promise<void> {
  const key = typeof email === "string" ? await throttleKey(deps, email) : email.key;
  await deps.db.loginThrottle.clear(key);
}

async function emailCounterKey(email: string): Promise<string> {
  return `email:${await hashToken(email.toLowerCase())}`;
}

/** The counter and throttle keys derived from an address: erased with its account. */
export async function personKeys(deps: Deps, email: string): Promise<string[]> {
  return [await throttleKey(deps, email), await emailCounterKey(email)];
}

/** At most 3 verification/reset emails per address per hour; silent (callers still answer 202). */
export async function allowEmailTo(deps: Deps, email: string): Promise<boolean> {
  const key = await emailCounterKey(email);
  const { count } = await deps.db.counters.increment(key, 3_600_000, deps.now());
  return count <= 3;
}
