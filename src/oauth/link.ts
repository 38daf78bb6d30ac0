import { recordEvent } from "../audit/record";
import { revokeAllSessions } from "../auth/sessions";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../email/security-notice";
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
 * - An email links a new identity to an existing account only when the provider verified it. A provider
 *   that says the email is unverified (or gives none) never links or creates anything, with the same
 *   answer whether or not the address is registered here (no enumeration, no squatting).
 * - A provider that asserts nothing about the email (Facebook) never links by email: the address's
 *   account answers 409 `account_exists` (its owner links from a signed-in session, `linkTo`); an unknown
 *   address gets a new, unverified account that ADMIN_EMAILS never promotes.
 * - A provider-verified email that matches an UNVERIFIED password account takes it over: whoever
 *   pre-registered the address never proved they own it, so their password and sessions go.
 */
export async function resolveOAuthUser(
  deps: Deps,
  provider: OAuthProviderName,
  profile: OAuthProfile,
  meta: RequestMeta,
  linkTo: User | null = null,
  attempt = 0,
): Promise<ResolvedUser> {
  const db = deps.db;
  const linked = await db.oauthAccounts.find(provider, profile.providerUserId);
  if (linked) {
    // Linking an identity that already belongs to another account never moves it.
    if (linkTo && linked.userId !== linkTo.id)
      throw new AppError("conflict", { detail: "This provider account is linked to another account." });
    const user = await db.users.findById(linked.userId);
    if (!user) throw new AppError("oauth_failed");
    return { user, created: false };
  }

  const email = profile.email?.normalize("NFC").trim() ?? "";
  if (linkTo) return linkToCaller(deps, provider, profile, meta, linkTo, email || null, attempt);
  if (profile.emailVerified === false || !isValidEmail(email))
    throw new AppError("email_not_verified", { detail: NO_VERIFIED_EMAIL });

  const existing = await db.users.findByEmail(email);
  if (existing) {
    if (profile.emailVerified !== true) throw new AppError("account_exists");
    if (!existing.isActive) throw new AppError("account_disabled");
    const takeover = !existing.isVerified;
    if (takeover) await takeOver(deps, existing, meta, provider);
    if (!(await link(deps, provider, profile, existing.id, email))) {
      if (attempt === 0) return resolveOAuthUser(deps, provider, profile, meta, null, 1);
      throw new AppError("conflict");
    }
    recordEvent(deps, meta, {
      action: "oauth_linked",
      userId: existing.id,
      metadata: { provider, takeover },
    });
    // A takeover's new owner is the one signing in; an existing owner learns of the new way in.
    if (!takeover) sendSecurityNotice(deps, existing, `${provider}_linked`);
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
    // Verified (and promoted) just below, through the one place that does it, when the provider vouched.
    isVerified: false,
    now: deps.now(),
  });
  if (!created || !(await link(deps, provider, profile, created.id, email))) {
    // A concurrent sign-in (same email or same identity) won the race: resolve again against its result.
    if (attempt === 0) return resolveOAuthUser(deps, provider, profile, meta, null, 1);
    throw new AppError("conflict");
  }
  // The provider vouched for the address, which is all our own verification email would prove.
  if (profile.emailVerified === true) await markEmailVerified(deps, created, meta, provider);
  const user = await db.users.findById(created.id);
  if (!user) throw new AppError("oauth_failed");
  return { user, created: true };
}

/** `?link=true` from a signed-in session: the identity joins the caller's account, whatever its email. */
async function linkToCaller(
  deps: Deps,
  provider: OAuthProviderName,
  profile: OAuthProfile,
  meta: RequestMeta,
  caller: User,
  email: string | null,
  attempt: number,
): Promise<ResolvedUser> {
  if (!caller.isActive) throw new AppError("account_disabled");
  if (!(await link(deps, provider, profile, caller.id, email))) {
    // Linked concurrently: resolve again (same caller → fine; another account → conflict).
    if (attempt === 0) return resolveOAuthUser(deps, provider, profile, meta, caller, 1);
    throw new AppError("conflict");
  }
  recordEvent(deps, meta, {
    action: "oauth_linked",
    userId: caller.id,
    metadata: { provider, takeover: false, from_session: true },
  });
  sendSecurityNotice(deps, caller, `${provider}_linked`);
  const user = await deps.db.users.findById(caller.id);
  if (!user) throw new AppError("oauth_failed");
  return { user, created: false };
}

function link(
  deps: Deps,
  provider: OAuthProviderName,
  profile: OAuthProfile,
  userId: string,
  email: string | null,
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
async function takeOver(
  deps: Deps,
  user: User,
  meta: RequestMeta,
  provider: OAuthProviderName,
): Promise<void> {
  await deps.db.users.update(user.id, { passwordHash: null }, deps.now());
  await markEmailVerified(deps, user, meta, provider);
  if (user.twoFactorEnabled) await deps.db.twoFactor.disable(user.id, deps.now());
  await revokeAllSessions(deps, user.id);
}
