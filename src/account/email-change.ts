import { recordEvent } from "../audit/record";
import { allowEmailTo } from "../auth/throttle";
import { hashToken } from "../auth/tokens";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../email/security-notice";
import { emailChangeEmail } from "../email/templates";
import { AppError } from "../errors";
import { randomToken } from "../lib/crypto";
import type { User } from "../storage/types";

/** How long the link to the new address works: an hour, like a reset link (it moves the account). */
export const EMAIL_CHANGE_TTL_MS = 3_600_000;

/**
 * Tokens of the account that die when its address changes: a link or code mailed to the old address must
 * not act on the account any more. "email_login" is email sign-in's pending purpose (issue 16 part 1).
 */
export const TOKENS_SPENT_BY_EMAIL_CHANGE = [
  "email_verification",
  "password_reset",
  "email_change",
  "email_login",
] as const;

/**
 * Answers 202 after the same work whether or not the address is free: the lookup, the token and the
 * email run after the answer, so neither the answer nor its timing says whether another account has it.
 * A taken (or unchanged) address gets no email; the owner of that address is not told either, since
 * nothing happens to them.
 */
export function requestEmailChange(deps: Deps, user: User, newEmail: string, meta: RequestMeta): void {
  recordEvent(deps, meta, { action: "email_change_requested", userId: user.id });
  deps.defer(sendEmailChangeLink(deps, user, newEmail), "email change");
}

async function sendEmailChangeLink(deps: Deps, user: User, newEmail: string): Promise<void> {
  if (newEmail.toLowerCase() === user.email.toLowerCase()) return;
  if (await deps.db.users.findByEmail(newEmail)) return;
  // Flood control on the receiving address, shared with verification and reset emails.
  if (!(await allowEmailTo(deps, newEmail))) return;
  const now = deps.now();
  // Only the newest link works: an older one may sit in a mailbox the user no longer wants.
  await deps.db.tokens.invalidateForUser(user.id, "email_change", now);
  const token = randomToken(32);
  await deps.db.tokens.create({
    tokenHash: await hashToken(token),
    purpose: "email_change",
    userId: user.id,
    // The address is not a secret; the token that proves it is stored only as a hash.
    data: { email: newEmail },
    expiresAt: new Date(now.getTime() + EMAIL_CHANGE_TTL_MS),
    now,
  });
  await deps.email.send(emailChangeEmail(deps.config, newEmail, token));
}

/**
 * Spends the link and moves the account to its address in one transaction (src/storage/types.ts
 * AccountRepository.confirmEmailChange), then tells the old address. Uniqueness is decided here, at
 * confirmation: the address may have been taken since the link was sent.
 */
export async function confirmEmailChange(deps: Deps, token: string, meta: RequestMeta): Promise<User> {
  const result = await deps.db.accounts.confirmEmailChange(
    await hashToken(token),
    [...TOKENS_SPENT_BY_EMAIL_CHANGE],
    deps.now(),
  );
  if (result.kind === "invalid") throw new AppError("invalid_token");
  if (result.kind === "taken") throw new AppError("email_taken");
  // The old address hears of it: if the change was not its owner's doing, this is how they find out.
  sendSecurityNotice(deps, { email: result.previousEmail }, "email_changed");
  // No address in the metadata: audit entries must outlive an erasure without naming anyone.
  recordEvent(deps, meta, { action: "email_changed", userId: result.user.id });
  return result.user;
}
