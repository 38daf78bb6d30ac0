import { recordEvent } from "../audit/record";
import type { AuthContext, RequestMeta } from "../context";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../email/security-notice";
import {
  alreadyRegisteredEmail,
  passwordResetEmail,
  usernameTakenEmail,
  verificationEmail,
} from "../email/templates";
import { AppError } from "../errors";
import { newId, randomToken } from "../lib/crypto";
import type { TokenPurpose, User } from "../storage/types";
import { markEmailVerified } from "../users/service";
import { assertPasswordAcceptable } from "./password-policy";
import { revokeAllSessions } from "./sessions";
import { admitPasswordAttempt, allowEmailTo, clearLoginThrottle, recordLoginFailure } from "./throttle";
import { hashToken } from "./tokens";

const VERIFICATION_TTL_MS = 24 * 3_600_000;
const RESET_TTL_MS = 3_600_000;

async function issueEmailToken(
  deps: Deps,
  user: User,
  purpose: TokenPurpose,
  ttlMs: number,
): Promise<string> {
  const now = deps.now();
  const token = randomToken(32);
  await deps.db.tokens.create({
    tokenHash: await hashToken(token),
    purpose,
    userId: user.id,
    expiresAt: new Date(now.getTime() + ttlMs),
    now,
  });
  return token;
}

export interface RegisterInput {
  email: string;
  password: string;
  fullName: string | null;
  username?: string | null;
}

/**
 * Answers the same way, after the same work, for new and existing addresses (no enumeration, not even by
 * time): the request validates and hashes the password, and everything that depends on whether the address
 * is taken (the insert, the token, the email, the audit entry) runs after the answer. An existing address
 * gets "you already have an account" instead of a verification email.
 */
export async function register(deps: Deps, input: RegisterInput, meta: RequestMeta): Promise<void> {
  await assertPasswordAcceptable(deps.assets, input.password, deps.config.PASSWORD_MIN_LENGTH, input.email);
  const passwordHash = await deps.passwords.hash(input.password);
  deps.defer(createAccount(deps, input, passwordHash, meta), "registration");
}

async function createAccount(
  deps: Deps,
  input: RegisterInput,
  passwordHash: string,
  meta: RequestMeta,
): Promise<void> {
  const now = deps.now();
  const created = await deps.db.users.create({
    id: newId(),
    email: input.email,
    fullName: input.fullName,
    username: input.username ?? null,
    passwordHash,
    role: "user",
    isVerified: false,
    now,
  });
  if (created) {
    const token = await issueEmailToken(deps, created, "email_verification", VERIFICATION_TTL_MS);
    await deps.email.send(verificationEmail(deps.config, created.email, token));
    recordEvent(deps, meta, { action: "register", userId: created.id, metadata: { outcome: "created" } });
    return;
  }
  const existing = await deps.db.users.findByEmail(input.email);
  if (!existing && input.username) {
    // The address is free, so the username was the conflict: only the address's owner learns it.
    if (await allowEmailTo(deps, input.email))
      await deps.email.send(usernameTakenEmail(deps.config, input.email, input.username));
    recordEvent(deps, meta, { action: "register", userId: null, metadata: { outcome: "username_taken" } });
    return;
  }
  if (existing && (await allowEmailTo(deps, existing.email)))
    await deps.email.send(alreadyRegisteredEmail(deps.config, existing.email));
  recordEvent(deps, meta, {
    action: "register",
    userId: existing?.id ?? null,
    metadata: { outcome: "existing" },
  });
}

export async function verifyEmail(deps: Deps, token: string, meta: RequestMeta): Promise<User> {
  const consumed = await deps.db.tokens.consume("email_verification", await hashToken(token), deps.now());
  if (!consumed?.userId) throw new AppError("invalid_token");
  const current = await deps.db.users.findById(consumed.userId);
  if (!current) throw new AppError("invalid_token");
  // An already verified account: the link is spent and changes nothing (no second promotion).
  const user = await markEmailVerified(deps, current, meta, "link");
  if (!user) throw new AppError("invalid_token");
  return user;
}

/**
 * Both answer 202 at once and do everything (the lookup included) after the answer: known and unknown
 * addresses cost the request the same, so neither the answer nor its timing says which one it was.
 */
export function resendVerification(deps: Deps, email: string, meta: RequestMeta): void {
  deps.defer(sendVerificationAgain(deps, email, meta), "verification resend");
}

export function forgotPassword(deps: Deps, email: string, meta: RequestMeta): void {
  deps.defer(sendPasswordReset(deps, email, meta), "password reset request");
}

async function sendVerificationAgain(deps: Deps, email: string, meta: RequestMeta): Promise<void> {
  const user = await deps.db.users.findByEmail(email);
  if (!user || user.isVerified || !user.isActive) return;
  if (!(await allowEmailTo(deps, user.email))) return;
  const token = await issueEmailToken(deps, user, "email_verification", VERIFICATION_TTL_MS);
  await deps.email.send(verificationEmail(deps.config, user.email, token));
  recordEvent(deps, meta, { action: "verification_resent", userId: user.id });
}

async function sendPasswordReset(deps: Deps, email: string, meta: RequestMeta): Promise<void> {
  const user = await deps.db.users.findByEmail(email);
  if (!user?.isActive) return;
  if (!(await allowEmailTo(deps, user.email))) return;
  const token = await issueEmailToken(deps, user, "password_reset", RESET_TTL_MS);
  await deps.email.send(passwordResetEmail(deps.config, user.email, token));
  recordEvent(deps, meta, { action: "password_reset_requested", userId: user.id });
}

export async function resetPassword(
  deps: Deps,
  token: string,
  newPassword: string,
  meta: RequestMeta,
): Promise<void> {
  const tokenHash = await hashToken(token);
  // Validate before consuming, so a rejected password does not burn the link.
  const pending = await deps.db.tokens.peek("password_reset", tokenHash, deps.now());
  const owner = pending?.userId ? await deps.db.users.findById(pending.userId) : null;
  if (!owner) throw new AppError("invalid_token");
  await assertPasswordAcceptable(
    deps.assets,
    newPassword,
    deps.config.PASSWORD_MIN_LENGTH,
    owner.email,
    "new_password",
  );
  const passwordHash = await deps.passwords.hash(newPassword);
  const consumed = await deps.db.tokens.consume("password_reset", tokenHash, deps.now());
  if (!consumed?.userId) throw new AppError("invalid_token");
  await deps.db.users.update(consumed.userId, { passwordHash }, deps.now());
  // Proving control of the mailbox also verifies the address.
  if (!owner.isVerified) await markEmailVerified(deps, owner, meta, "password_reset");
  // Proving control of the mailbox also lifts a sign-in throttle someone else caused.
  await clearLoginThrottle(deps, owner.email);
  await deps.db.tokens.invalidateForUser(consumed.userId, "password_reset", deps.now());
  const sessions = await revokeAllSessions(deps, consumed.userId);
  recordEvent(deps, meta, { action: "password_reset", userId: consumed.userId, metadata: { sessions } });
  sendSecurityNotice(deps, owner, "password_reset");
}

export async function changePassword(
  deps: Deps,
  auth: AuthContext,
  /** The caller, loaded (and checked active) by requireAuth. */
  user: User,
  currentPassword: string,
  newPassword: string,
  meta: RequestMeta,
): Promise<void> {
  // Guessing the current password with a stolen access token is guessing a password: the same account
  // throttle as login counts the attempt before it is evaluated.
  const attempt = await admitPasswordAttempt(deps, user.email);
  const check = await deps.passwords.verify(currentPassword, user.passwordHash ?? deps.passwords.dummyHash);
  if (!user.passwordHash || !check.ok) {
    await recordLoginFailure(deps, meta, attempt, user);
    throw new AppError("invalid_credentials", { detail: "The current password is incorrect." });
  }
  await clearLoginThrottle(deps, attempt);
  await assertPasswordAcceptable(
    deps.assets,
    newPassword,
    deps.config.PASSWORD_MIN_LENGTH,
    user.email,
    "new_password",
  );
  await deps.db.users.update(user.id, { passwordHash: await deps.passwords.hash(newPassword) }, deps.now());
  const sessions = await revokeAllSessions(deps, user.id, auth.sessionId);
  recordEvent(deps, meta, { action: "password_changed", userId: user.id, metadata: { sessions } });
  sendSecurityNotice(deps, user, "password_changed");
}
