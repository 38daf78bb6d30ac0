import { prepareChain, recordEvent } from "../audit/record";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { hmacBase64url } from "../lib/crypto";
import { isEmailIdentifier } from "../lib/username";
import { verifyTwoFactor } from "../twofactor/service";
import { DUMMY_BCRYPT_HASH, isBcryptHash } from "./password";
import { presentTokens } from "./present";
import { completeSignIn, type MfaChallenge, type TokenResponse } from "./sign-in";
import { admitPasswordAttempt, clearLoginThrottle, recordLoginFailure } from "./throttle";

/**
 * `identifier` is an email address when it contains `@`, else a username (README). A username is resolved
 * to its account's address first, so both identifiers share one throttle; an unknown username is
 * throttled under itself (it can never collide with an address) after the same two reads.
 */
export async function passwordLogin(
  deps: Deps,
  identifier: string,
  password: string,
  meta: RequestMeta,
): Promise<TokenResponse | MfaChallenge> {
  const email = isEmailIdentifier(identifier)
    ? identifier
    : ((await deps.db.users.findByUsername(identifier))?.email ?? identifier);
  // The attempt is counted (or refused with 429) before the password is looked at, known address or
  // not; the account is read at the same time, so both cost one round trip before the hash.
  const [user, attempt] = await Promise.all([
    deps.db.users.findByEmail(email),
    admitPasswordAttempt(deps, email),
  ]);
  // Unknown email (or an OAuth-only account) still costs one scrypt: timing reveals nothing.
  const stored = user?.passwordHash ?? deps.passwords.dummyHash;
  // The sign-in's audit entry links to the chain's tail: read it while the hash runs, not after. Only
  // awaited on success, so a refusal's timing does not depend on it.
  const prepared =
    user?.isActive && user.isVerified && !user.twoFactorEnabled ? prepareChain(deps, user.id) : undefined;
  const check = await deps.passwords.verify(password, stored);
  if (deps.config.LEGACY_BCRYPT) {
    // Cut-over from the FastAPI service: bcrypt-12 and scrypt cost differently, so every login runs
    // both, and the time does not say whether an account exists or has been migrated yet.
    await deps.passwords.verify(
      password,
      isBcryptHash(stored) ? deps.passwords.dummyHash : DUMMY_BCRYPT_HASH,
    );
  }
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
  const [signedIn] = await Promise.all([
    completeSignIn(deps, user, "password", meta, undefined, prepared),
    cleared,
  ]);
  return signedIn;
}

/**
 * `POST /auth/login {email, password, otp}` as the FastAPI service's clients send it: the password step,
 * then, for a 2FA account, the code step of /auth/2fa/verify on the challenge just issued (so the same
 * TOTP replay rule and failure limit apply; a wrong code is 401 like there).
 */
export async function passwordLoginWithCode(
  deps: Deps,
  identifier: string,
  password: string,
  code: string | undefined,
  meta: RequestMeta,
): Promise<TokenResponse | MfaChallenge> {
  const result = await passwordLogin(deps, identifier, password, meta);
  if (code === undefined || !("mfa_required" in result)) return result;
  return presentTokens(await verifyTwoFactor(deps, result.mfa_token, code, meta));
}
