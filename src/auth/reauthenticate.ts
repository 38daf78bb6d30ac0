import type { AuthenticationResponseJSON } from "@simplewebauthn/server";
import { recordEvent } from "../audit/record";
import type { AuthContext, RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { verifyPasskeyAssertion } from "../passkeys/service";
import type { User } from "../storage/types";
import { requireSecondFactor } from "../twofactor/service";
import { admitPasswordAttempt, clearLoginThrottle, recordLoginFailure } from "./throttle";

/**
 * A fresh proof: the password, one of the caller's passkeys, or (for an account without a password) a
 * TOTP or recovery code.
 */
export type ReauthCredential =
  | { password: string }
  | { code: string }
  | { passkey: AuthenticationResponseJSON };

/**
 * Records a fresh proof of a credential on the caller's session ("sudo mode", API.md), and returns until
 * when it counts as recent. A wrong credential is a failed sign-in: it counts toward the same account
 * throttle as login (counted before it is checked), so a stolen access token cannot guess the password
 * here any faster than at /auth/login.
 */
export async function reauthenticate(
  deps: Deps,
  auth: AuthContext,
  /** The caller, loaded (and checked active) by requireAuth. */
  user: User,
  credential: ReauthCredential,
  meta: RequestMeta,
): Promise<Date> {
  const attempt = await admitPasswordAttempt(deps, user.email);
  const method = await check(deps, user, credential, meta);
  if (!method) {
    await recordLoginFailure(deps, meta, attempt, user);
    recordEvent(deps, meta, {
      action: "login_failed",
      userId: user.id,
      metadata: { reason: "bad_credential", method: "reauthenticate" },
    });
    throw new AppError("invalid_credentials");
  }
  const now = deps.now();
  const [marked] = await Promise.all([
    deps.db.sessions.markAuthenticated(auth.sessionId, now),
    clearLoginThrottle(deps, attempt),
  ]);
  // The session ended between authenticate and now (a concurrent logout): nothing to make recent.
  if (!marked) throw new AppError("invalid_access_token");
  recordEvent(deps, meta, { action: "reauthenticated", userId: user.id, metadata: { method } });
  return new Date(now.getTime() + deps.config.REAUTH_WINDOW_SECONDS * 1000);
}

async function check(
  deps: Deps,
  user: User,
  credential: ReauthCredential,
  meta: RequestMeta,
): Promise<"password" | "passkey" | "totp" | "recovery_code" | null> {
  if ("passkey" in credential) {
    try {
      // Only the caller's own passkeys count; the challenge is spent whatever the outcome.
      await verifyPasskeyAssertion(deps, credential.passkey, meta, user.id);
      return "passkey";
    } catch (err) {
      if (err instanceof AppError && err.wireCode === "invalid_passkey") return null;
      throw err;
    }
  }
  if ("password" in credential) {
    // An account without a password still costs one scrypt: the answer's timing is the same.
    const result = await deps.passwords.verify(
      credential.password,
      user.passwordHash ?? deps.passwords.dummyHash,
    );
    return user.passwordHash && result.ok ? "password" : null;
  }
  // A code stands in for the password only where there is no password to ask for (API.md).
  if (user.passwordHash || !user.twoFactorEnabled) return null;
  try {
    return await requireSecondFactor(deps, user.id, credential.code, meta, "invalid_code");
  } catch (err) {
    if (err instanceof AppError && (err.code === "invalid_code" || err.code === "two_factor_not_enabled"))
      return null;
    throw err;
  }
}
