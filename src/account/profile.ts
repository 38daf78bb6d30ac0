import { recordEvent } from "../audit/record";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../email/security-notice";
import { AppError } from "../errors";
import type { OAuthProviderName, ProfilePatch, User } from "../storage/types";

/** PATCH /auth/me: full name and username; unchanged fields are not written. */
export async function updateProfile(
  deps: Deps,
  user: User,
  patch: ProfilePatch,
  meta: RequestMeta,
): Promise<User> {
  const changes: ProfilePatch = {};
  if (patch.fullName !== undefined && patch.fullName !== user.fullName) changes.fullName = patch.fullName;
  // A change of case only is a change too (the username is shown as chosen).
  if (patch.username !== undefined && patch.username !== user.username) changes.username = patch.username;
  if (Object.keys(changes).length === 0) return user;
  const result = await deps.db.accounts.updateProfile(user.id, changes, deps.now());
  if (result.kind === "username_taken") throw new AppError("username_taken");
  if (result.kind === "not_found") throw new AppError("unauthorized");
  // Which fields changed, never their values: the log must not keep a name after an erasure.
  recordEvent(deps, meta, {
    action: "profile_updated",
    userId: user.id,
    metadata: {
      fields: [
        ...(changes.fullName !== undefined ? ["full_name"] : []),
        ...(changes.username !== undefined ? ["username"] : []),
      ],
    },
  });
  return result.user;
}

/** DELETE /auth/providers/{provider}: refused when nothing else could sign the user in. */
export async function unlinkProvider(
  deps: Deps,
  user: User,
  provider: OAuthProviderName,
  meta: RequestMeta,
): Promise<void> {
  const result = await deps.db.accounts.unlinkProvider(user.id, provider);
  if (result === "not_found")
    throw new AppError("not_found", { detail: `No ${provider} sign-in is linked.` });
  if (result === "last_sign_in_method") throw new AppError("last_sign_in_method");
  recordEvent(deps, meta, { action: "oauth_unlinked", userId: user.id, metadata: { provider } });
  // Changing how the account signs in is worth a line to its address, as linking is.
  sendSecurityNotice(deps, user, `${provider}_unlinked`);
}
