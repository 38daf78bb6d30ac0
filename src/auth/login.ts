import { recordEvent } from "../audit/record";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { hmacBase64url } from "../lib/crypto";
import { completeSignIn, type MfaChallenge, type TokenResponse } from "./sign-in";
import { admitPasswordAttempt, clearLoginThrottle, recordLoginFailure } from "./throttle";

export async function passwordLogin(
  deps: Deps,
  email: string,
  password: string,
  meta: RequestMeta,
): Promise<TokenResponse | MfaChallenge> {
  // The attempt is counted (or refused with 429) before the password is looked at, known address or
  // not; the account is read at the same time, so both cost one round trip before the hash.
  const [user, attempt] = await Promise.all([
    deps.db.users.findByEmail(email),
    admitPasswordAttempt(deps, email),
  ]);
  // Unknown email (or an OAuth-only account) still costs one scrypt: timing reveals nothing.
  const check = await deps.passwords.verify(password, user?.passwordHash ?? deps.passwords.dummyHash);
  if (!user || !check.ok) {
    await recordLoginFailure(deps, meta, attempt, user);
    recordEvent(deps, meta, {
      action: "login_failed",
      userId: user?.id ?? null,
      metadata: user
        ? { reason: "bad_password", method: "password" }
        : {
            reason: "unknown_email",
            method: "password",
            email_hash: await hmacBase64url(deps.config.SECRET_KEY, "audit-email", email.toLowerCase()),
          },
    });
    throw new AppError("invalid_credentials");
  }
  // The right password is not a guess: the episode ends (with the sign-in's write, not before it).
  const cleared = clearLoginThrottle(deps, attempt);
  // Only now, after the right password, may the answer reveal the account's state.
  if (!user.isActive || !user.isVerified) deps.defer(cleared, "throttle clear");
  if (!user.isActive) {
    recordEvent(deps, meta, { action: "login_failed", userId: user.id, metadata: { reason: "disabled" } });
    throw new AppError("account_disabled");
  }
  if (!user.isVerified) {
    recordEvent(deps, meta, { action: "login_failed", userId: user.id, metadata: { reason: "unverified" } });
    throw new AppError("email_not_verified");
  }
  if (check.needsRehash) {
    deps.defer(
      deps.passwords
        .hash(password)
        .then((hash) => deps.db.users.update(user.id, { passwordHash: hash }, deps.now())),
      "password rehash",
    );
  }
  const [signedIn] = await Promise.all([completeSignIn(deps, user, "password", meta), cleared]);
  return signedIn;
}
