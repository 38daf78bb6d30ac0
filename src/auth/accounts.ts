import { recordEvent } from "../audit/record";
import type { AuthContext, RequestMeta } from "../context";
import type { Deps } from "../deps";
import { alreadyRegisteredEmail, passwordResetEmail, verificationEmail } from "../email/templates";
import { AppError } from "../errors";
import { newId, randomToken } from "../lib/crypto";
import type { TokenPurpose, User } from "../storage/types";
import { assertPasswordAcceptable } from "./password-policy";
import { revokeAllSessions } from "./sessions";
import { allowEmailTo, clearLoginThrottle } from "./throttle";
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

function isAdminEmail(deps: Deps, email: string): boolean {
  return deps.config.ADMIN_EMAILS.includes(email.toLowerCase());
}

export interface RegisterInput {
  email: string;
  password: string;
  fullName: string | null;
}

/**
 * Answers the same way for new and existing addresses (no enumeration): the hash is computed either way and
 * the email goes out in the background. An existing address gets "you already have an account" instead.
 */
export async function register(deps: Deps, input: RegisterInput, meta: RequestMeta): Promise<void> {
  assertPasswordAcceptable(input.password, deps.config.PASSWORD_MIN_LENGTH, input.email);
  const passwordHash = await deps.passwords.hash(input.password);
  const now = deps.now();
  const created = await deps.db.users.create({
    id: newId(),
    email: input.email,
    fullName: input.fullName,
    passwordHash,
    role: "user",
    isVerified: false,
    now,
  });
  if (created) {
    const token = await issueEmailToken(deps, created, "email_verification", VERIFICATION_TTL_MS);
    deps.defer(deps.email.send(verificationEmail(deps.config, created.email, token)), "verification email");
    recordEvent(deps, meta, { action: "register", userId: created.id, metadata: { outcome: "created" } });
    return;
  }
  const existing = await deps.db.users.findByEmail(input.email);
  if (existing && (await allowEmailTo(deps, existing.email))) {
    deps.defer(
      deps.email.send(alreadyRegisteredEmail(deps.config, existing.email)),
      "already-registered email",
    );
  }
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
  const promote = isAdminEmail(deps, current.email) && current.role !== "admin";
  const user = await deps.db.users.update(
    current.id,
    { isVerified: true, ...(promote ? { role: "admin" as const } : {}) },
    deps.now(),
  );
  if (!user) throw new AppError("invalid_token");
  recordEvent(deps, meta, { action: "email_verified", userId: user.id });
  if (promote)
    recordEvent(deps, meta, {
      action: "role_promoted",
      userId: user.id,
      metadata: { reason: "ADMIN_EMAILS" },
    });
  return user;
}

export async function resendVerification(deps: Deps, email: string, meta: RequestMeta): Promise<void> {
  const user = await deps.db.users.findByEmail(email);
  if (!user || user.isVerified || !user.isActive) return;
  if (!(await allowEmailTo(deps, user.email))) return;
  const token = await issueEmailToken(deps, user, "email_verification", VERIFICATION_TTL_MS);
  deps.defer(deps.email.send(verificationEmail(deps.config, user.email, token)), "verification email");
  recordEvent(deps, meta, { action: "verification_resent", userId: user.id });
}

export async function forgotPassword(deps: Deps, email: string, meta: RequestMeta): Promise<void> {
  const user = await deps.db.users.findByEmail(email);
  if (!user?.isActive) return;
  if (!(await allowEmailTo(deps, user.email))) return;
  const token = await issueEmailToken(deps, user, "password_reset", RESET_TTL_MS);
  deps.defer(deps.email.send(passwordResetEmail(deps.config, user.email, token)), "password reset email");
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
  assertPasswordAcceptable(newPassword, deps.config.PASSWORD_MIN_LENGTH, owner.email, "new_password");
  const passwordHash = await deps.passwords.hash(newPassword);
  const consumed = await deps.db.tokens.consume("password_reset", tokenHash, deps.now());
  if (!consumed?.userId) throw new AppError("invalid_token");
  // Proving control of the mailbox also verifies the address.
  await deps.db.users.update(consumed.userId, { passwordHash, isVerified: true }, deps.now());
  // Proving control of the mailbox also lifts a sign-in throttle someone else caused.
  await clearLoginThrottle(deps, owner.email);
  await deps.db.tokens.invalidateForUser(consumed.userId, "password_reset", deps.now());
  const sessions = await revokeAllSessions(deps, consumed.userId);
  recordEvent(deps, meta, { action: "password_reset", userId: consumed.userId, metadata: { sessions } });
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
  const check = await deps.passwords.verify(currentPassword, user.passwordHash ?? "");
  if (!check.ok) throw new AppError("invalid_credentials", { detail: "The current password is incorrect." });
  assertPasswordAcceptable(newPassword, deps.config.PASSWORD_MIN_LENGTH, user.email, "new_password");
  await deps.db.users.update(user.id, { passwordHash: await deps.passwords.hash(newPassword) }, deps.now());
  const sessions = await revokeAllSessions(deps, user.id, auth.sessionId);
  recordEvent(deps, meta, { action: "password_changed", userId: user.id, metadata: { sessions } });
}
