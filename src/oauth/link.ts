import { recordEvent } from "../audit/record";
import { revokeAllSessions } from "../auth/sessions";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { newId } from "../lib/crypto";
import { isValidEmail } from "../lib/email-address";
import type { OAuthProviderName, User } from "../storage/types";
import { markEmailVerified } from "../users/service";
import type { OAuthProfile } from "./providers";

export interface ResolvedUser {
  user: User;
  created: boolean;
}

const NO_VERIFIED_EMAIL =
  "The provider did not vouch for an email address on this account, so it cannot sign in here. " +
  "Verify your email with the provider, or register with a password.";

/**
 * Finds or creates the local user behind a provider identity.
 *
 * - Identities are keyed by (provider, provider user id), never by email: an email change at the provider
 *   neither moves nor breaks the link.
 * - An email links a new identity to an existing account only when the provider verified it. An unverified
 *   (or missing) provider email never links or creates anything, with the same answer whether or not the
 *   address is registered here (no enumeration, no squatting).
 * - A provider-verified email that matches an UNVERIFIED password account takes it over: whoever
 *   pre-registered the address never proved they own it, so their password and sessions go.
 */
export async function resolveOAuthUser(
  deps: Deps,
  provider: OAuthProviderName,
  profile: OAuthProfile,
  meta: RequestMeta,
  attempt = 0,
): Promise<ResolvedUser> {
  const db = deps.db;
  const linked = await db.oauthAccounts.find(provider, profile.providerUserId);
  if (linked) {
    const user = await db.users.findById(linked.userId);
    if (!user) throw new AppError("oauth_failed");
    return { user, created: false };
  }

  const email = profile.email?.normalize("NFC").trim() ?? "";
  if (!profile.emailVerified || !isValidEmail(email))
    throw new AppError("email_not_verified", { detail: NO_VERIFIED_EMAIL });

  const existing = await db.users.findByEmail(email);
  if (existing) {
    if (!existing.isActive) throw new AppError("account_disabled");
    const takeover = !existing.isVerified;
    if (takeover) await takeOver(deps, existing, meta);
    if (!(await link(deps, provider, profile, existing.id, email))) {
      if (attempt === 0) return resolveOAuthUser(deps, provider, profile, meta, 1);
      throw new AppError("conflict");
    }
    recordEvent(deps, meta, {
      action: "oauth_linked",
      userId: existing.id,
      metadata: { provider, takeover },
    });
    const user = await db.users.findById(existing.id);
    if (!user) throw new AppError("oauth_failed");
    return { user, created: false };
  }

  const created = await db.users.create({
    id: newId(),
    email,
    fullName: profile.name ? profile.name.slice(0, 100) : null,
    passwordHash: null,
    role: "user",
    // Verified (and promoted) just below, through the one place that does it.
    isVerified: false,
    now: deps.now(),
  });
  if (!created || !(await link(deps, provider, profile, created.id, email))) {
    // A concurrent sign-in (same email or same identity) won the race: resolve again against its result.
    if (attempt === 0) return resolveOAuthUser(deps, provider, profile, meta, 1);
    throw new AppError("conflict");
  }
  // The provider vouched for the address, which is all our own verification email would prove.
  await markEmailVerified(deps, created, meta, "google");
  const user = await db.users.findById(created.id);
  if (!user) throw new AppError("oauth_failed");
  return { user, created: true };
}

function link(
  deps: Deps,
  provider: OAuthProviderName,
  profile: OAuthProfile,
  userId: string,
  email: string,
): Promise<boolean> {
  return deps.db.oauthAccounts.link({
    provider,
    providerUserId: profile.providerUserId,
    userId,
    email,
    createdAt: deps.now(),
  });
}

/**
 * Pre-registration takeover defence: someone may have registered the victim's address with a password
 * they know, hoping the victim later signs in with Google and inherits a password the attacker holds.
 * The unproven password is cleared (the owner can reset it through the mailbox), every session and any
 * second factor set up on the account are dropped, and the address becomes verified.
 */
async function takeOver(deps: Deps, user: User, meta: RequestMeta): Promise<void> {
  await deps.db.users.update(user.id, { passwordHash: null }, deps.now());
  await markEmailVerified(deps, user, meta, "google");
  if (user.twoFactorEnabled) await deps.db.twoFactor.disable(user.id, deps.now());
  await revokeAllSessions(deps, user.id);
}
