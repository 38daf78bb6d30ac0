import { recordEvent } from "../audit/record";
import { revokeAllSessions } from "../auth/sessions";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import type { OAuthProviderName, Page, Role, User, UserPatch } from "../storage/types";

/** How an address was proven; kept on the `email_verified` audit entry. */
export type VerifiedBy = "link" | "password_reset" | "email_login" | OAuthProviderName;

export function isAdminEmail(deps: Deps, email: string): boolean {
  return deps.config.ADMIN_EMAILS.includes(email.toLowerCase());
}

/**
 * The one place an address becomes verified, and so the one place ADMIN_EMAILS promotes. The transition
 * is a single conditional UPDATE (unverified → verified), so promotion happens once: an admin who was
 * demoted later is never promoted again by an old link, a reset or a provider sign-in. The account's
 * outstanding verification links die with it. Returns the user when this call verified the address,
 * null when it already was verified (nothing changes then).
 */
export async function markEmailVerified(
  deps: Deps,
  user: User,
  meta: RequestMeta,
  by: VerifiedBy,
): Promise<User | null> {
  const now = deps.now();
  const promote = isAdminEmail(deps, user.email) && user.role !== "admin";
  const verified = await deps.db.users.markVerified(user.id, promote, now);
  if (!verified) return null;
  await deps.db.tokens.invalidateForUser(user.id, "email_verification", now);
  recordEvent(deps, meta, { action: "email_verified", userId: user.id, metadata: { by } });
  if (promote)
    recordEvent(deps, meta, {
      action: "role_promoted",
      userId: user.id,
      metadata: { reason: "ADMIN_EMAILS" },
    });
  return verified;
}

export interface UserListOptions {
  limit: number;
  cursor?: string | null;
  /** Email prefix as the admin typed it; matched case-insensitively and literally (no wildcards). */
  q?: string | null;
}

export function listUsers(deps: Deps, options: UserListOptions): Promise<Page<User>> {
  const prefix = options.q?.trim().toLowerCase();
  return deps.db.users.list({
    limit: options.limit,
    cursor: options.cursor ?? null,
    emailPrefix: prefix ? prefix : null,
  });
}

export async function getUser(deps: Deps, userId: string): Promise<User> {
  const user = await deps.db.users.findById(userId);
  if (!user) throw new AppError("not_found", { detail: "No user with this id." });
  return user;
}

/** The only fields an admin may change; anything else in the body was already dropped by the schema. */
export interface AdminUserChange {
  role?: Role;
  isActive?: boolean;
}

type Changes = { role?: { from: Role; to: Role }; is_active?: { from: boolean; to: boolean } };

export async function updateUser(
  deps: Deps,
  actor: User,
  targetId: string,
  change: AdminUserChange,
  meta: RequestMeta,
): Promise<User> {
  // Checked before the lookup would not leak anything (the actor knows their own id), and it keeps an admin
  // from locking themself out: someone else (or `npm run admin`) must do it.
  if (actor.id === targetId && (change.role === "user" || change.isActive === false)) {
    throw new AppError("forbidden", {
      detail: "Admins cannot demote or deactivate themselves; ask another admin.",
    });
  }
  const target = await getUser(deps, targetId);

  const patch: UserPatch = {};
  const changes: Changes = {};
  if (change.role !== undefined && change.role !== target.role) {
    patch.role = change.role;
    changes.role = { from: target.role, to: change.role };
  }
  if (change.isActive !== undefined && change.isActive !== target.isActive) {
    patch.isActive = change.isActive;
    changes.is_active = { from: target.isActive, to: change.isActive };
  }
  if (Object.keys(patch).length === 0) return target;

  const updated = await deps.db.users.update(targetId, patch, deps.now());
  if (!updated) throw new AppError("not_found", { detail: "No user with this id." });
  // Deactivation ends every session now (refresh and access tokens alike: authenticate reads the row);
  // login then answers account_disabled.
  if (patch.isActive === false) await revokeAllSessions(deps, targetId);
  recordEvent(deps, meta, {
    action: "user_updated",
    // The target's id, so the change shows on their own log as well as in GET /audit.
    userId: targetId,
    metadata: { changes, actor_id: actor.id },
  });
  return updated;
}
