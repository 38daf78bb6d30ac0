import { prepareChain, recordEvent } from "../audit/record";
import { revokeAllSessions } from "../auth/sessions";
import { type SessionTokens, startSession } from "../auth/sign-in";
import { hashToken } from "../auth/tokens";
import type { AuthContext, RequestMeta } from "../context";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../email/security-notice";
import { AppError } from "../errors";
import type { User } from "../storage/types";
import {
  hashRecoveryCode,
  hashRecoveryCodes,
  newRecoveryCodes,
  normaliseRecoveryCode,
} from "./recovery-codes";
import { decryptSecret, encryptSecret } from "./secret-box";
import { encodeTotpSecret, matchTotp, newTotpSecret, totpKeyUri } from "./totp";

/** Wrong second factors per user before verify (and disable/regenerate) answer 429. */
export const MAX_CODE_FAILURES = 5;
export const CODE_LOCKOUT_MS = 15 * 60_000;

/** A pending enrolment: the secret (base32, for manual entry) and its otpauth:// key URI. */
export interface TotpEnrolment {
  secret: string;
  keyUri: string;
}

export type SecondFactor = "totp" | "recovery_code";

/** The counter of wrong codes; exported so erasing an account (src/account/erase.ts) deletes it. */
export const failureKey = (userId: string): string => `2fa-fail:${userId}`;

/** Starts (or restarts) enrolment: a fresh secret, pending until a code proves the app has it. */
export async function setupTwoFactor(
  deps: Deps,
  _auth: AuthContext,
  /** The caller, loaded (and checked active) by requireAuth. */
  user: User,
  meta: RequestMeta,
): Promise<TotpEnrolment> {
  if (user.twoFactorEnabled) throw new AppError("two_factor_already_enabled");
  const key = newTotpSecret();
  await deps.db.twoFactor.setPending(user.id, await encryptSecret(deps.config, user.id, key), deps.now());
  recordEvent(deps, meta, { action: "2fa_setup", userId: user.id });
  // The only time the secret leaves the server; afterwards only its ciphertext exists.
  return { secret: encodeTotpSecret(key), keyUri: totpKeyUri(deps.config.APP_NAME, user.email, key) };
}

/** A code from the pending secret turns 2FA on; returns the plain recovery codes (shown once). */
export async function enableTwoFactor(
  deps: Deps,
  auth: AuthContext,
  /** The caller, loaded (and checked active) by requireAuth. */
  user: User,
  code: string,
  meta: RequestMeta,
): Promise<string[]> {
  const state = await deps.db.twoFactor.get(user.id);
  if (state?.secretEnc) throw new AppError("two_factor_already_enabled");
  if (!state?.pendingSecretEnc) throw new AppError("two_factor_not_pending");
  const key = await decryptSecret(deps.config, user.id, state.pendingSecretEnc);
  const step = matchTotp(key, compactDigits(code), deps.now().getTime());
  if (step === null) throw new AppError("invalid_code");
  const codes = newRecoveryCodes();
  // The ciphertext is the compare-and-swap value: a concurrent setup or enable makes this a no-op.
  const enabled = await deps.db.twoFactor.enable(
    user.id,
    state.pendingSecretEnc,
    step,
    await hashRecoveryCodes(codes),
    deps.now(),
  );
  if (!enabled) {
    const now = await deps.db.twoFactor.get(user.id);
    throw new AppError(now?.secretEnc ? "two_factor_already_enabled" : "two_factor_not_pending");
  }
  // Whoever signed in before 2FA was on did so with the password alone.
  const sessions = await revokeAllSessions(deps, user.id, auth.sessionId);
  recordEvent(deps, meta, { action: "2fa_enabled", userId: user.id, metadata: { sessions } });
  sendSecurityNotice(deps, user, "two_factor_enabled");
  return codes;
}

export async function disableTwoFactor(
  deps: Deps,
  _auth: AuthContext,
  /** The caller, loaded (and checked active) by requireAuth. */
  user: User,
  code: string,
  meta: RequestMeta,
): Promise<User> {
  const method = await requireSecondFactor(deps, user.id, code, meta, "invalid_code");
  await deps.db.twoFactor.disable(user.id, deps.now());
  recordEvent(deps, meta, { action: "2fa_disabled", userId: user.id, metadata: { method } });
  sendSecurityNotice(deps, user, "two_factor_disabled");
  return { ...user, twoFactorEnabled: false };
}

export async function regenerateRecoveryCodes(
  deps: Deps,
  _auth: AuthContext,
  /** The caller, loaded (and checked active) by requireAuth. */
  user: User,
  code: string,
  meta: RequestMeta,
): Promise<string[]> {
  await requireSecondFactor(deps, user.id, code, meta, "invalid_code");
  const codes = newRecoveryCodes();
  await deps.db.twoFactor.replaceRecoveryCodes(user.id, await hashRecoveryCodes(codes), deps.now());
  recordEvent(deps, meta, { action: "2fa_recovery_codes_regenerated", userId: user.id });
  return codes;
}

/**
 * The second step of a sign-in. The mfa_token is only peeked until the code is right, so a typo does
 * not send the user back to the password; it is consumed (single use) only on success.
 */
export async function verifyTwoFactor(
  deps: Deps,
  mfaToken: string,
  code: string,
  meta: RequestMeta,
): Promise<SessionTokens> {
  const tokenHash = await hashToken(mfaToken);
  const challenge = await deps.db.tokens.peek("mfa", tokenHash, deps.now());
  if (!challenge?.userId) throw new AppError("invalid_mfa_token");
  // The sign-in's chain tail is read while the account, the code and the challenge are checked.
  const prepared = prepareChain(deps, challenge.userId);
  const user = await deps.db.users.findById(challenge.userId);
  // 2FA turned off (or the account disabled) since the password step: start the sign-in again.
  if (!user?.isActive || !user.twoFactorEnabled) throw new AppError("invalid_mfa_token");
  await requireSecondFactor(deps, user.id, code, meta, "invalid_mfa_code");
  // Of concurrent requests with the same mfa_token, only the one whose UPDATE consumed it signs in.
  if (!(await deps.db.tokens.consume("mfa", tokenHash, deps.now()))) throw new AppError("invalid_mfa_token");
  const method = typeof challenge.data?.method === "string" ? challenge.data.method : "password";
  return startSession(
    deps,
    user,
    meta,
    { action: "login_succeeded", userId: user.id, metadata: { method, mfa: true } },
    undefined,
    prepared,
  );
}

/**
 * Checks a TOTP or recovery code of an enabled account and burns it (the step, or the recovery code),
 * under a per-user failure limit. The attempt is counted before the check, so a burst of parallel
 * guesses cannot all slip past the limit; a success clears the count.
 */
export async function requireSecondFactor(
  deps: Deps,
  userId: string,
  code: string,
  meta: RequestMeta,
  invalid: "invalid_code" | "invalid_mfa_code",
): Promise<SecondFactor> {
  const state = await deps.db.twoFactor.get(userId);
  if (!state?.secretEnc) throw new AppError("two_factor_not_enabled");
  const now = deps.now();
  const attempt = await deps.db.counters.increment(failureKey(userId), CODE_LOCKOUT_MS, now);
  if (attempt.count > MAX_CODE_FAILURES) {
    const seconds = Math.max(1, Math.ceil((attempt.resetAt.getTime() - now.getTime()) / 1000));
    throw new AppError("rate_limited", {
      detail: "Too many wrong codes; try again later.",
      headers: { "Retry-After": String(seconds) },
    });
  }
  const method = await consumeSecondFactor(deps, userId, state.secretEnc, code, meta);
  if (method === null) {
    recordEvent(deps, meta, {
      action: "2fa_failed",
      userId,
      metadata: { failures: attempt.count, locked: attempt.count >= MAX_CODE_FAILURES },
    });
    throw new AppError(invalid);
  }
  await deps.db.counters.reset(failureKey(userId));
  return method;
}

async function consumeSecondFactor(
  deps: Deps,
  userId: string,
  secretEnc: string,
  code: string,
  meta: RequestMeta,
): Promise<SecondFactor | null> {
  const digits = compactDigits(code);
  if (/^[0-9]{6}$/.test(digits)) {
    const key = await decryptSecret(deps.config, userId, secretEnc);
    const step = matchTotp(key, digits, deps.now().getTime());
    // A step is accepted once, and only after the last accepted one (RFC 6238 §5.2): no replay.
    if (step === null || !(await deps.db.twoFactor.acceptStep(userId, step))) return null;
    return "totp";
  }
  if (normaliseRecoveryCode(code) === null) return null;
  if (!(await deps.db.twoFactor.consumeRecoveryCode(userId, await hashRecoveryCode(code), deps.now())))
    return null;
  const remaining = await deps.db.twoFactor.countRecoveryCodes(userId);
  recordEvent(deps, meta, { action: "recovery_code_used", userId, metadata: { remaining } });
  return "recovery_code";
}

/** Apps show codes as "123 456"; people paste them that way. */
function compactDigits(code: string): string {
  return code.replace(/\s+/g, "");
}
