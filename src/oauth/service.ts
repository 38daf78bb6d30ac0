import { recordEvent } from "../audit/record";
import { completeSignIn, type MfaChallenge, type TokenResponse } from "../auth/sign-in";
import { issueSignInCode, withSignInCode } from "../auth/sign-in-code";
import { hashToken } from "../auth/tokens";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError, type ErrorCodeName } from "../errors";
import { constantTimeEqual, hmacBase64url, randomToken } from "../lib/crypto";
import type { OAuthProviderName, User } from "../storage/types";
import { resolveOAuthUser } from "./link";
import {
  IdTokenRejected,
  type OAuthProfile,
  oauthProvider,
  ProviderRejected,
  ProviderUnavailable,
  redirectUriFor,
} from "./providers";
import { isAllowedOAuthRedirect, isAllowedRedirect } from "./redirects";

export const OAUTH_STATE_TTL_SECONDS = 600;

export type SignInResult = TokenResponse | MfaChallenge;

/*
 * The PKCE verifier and the OIDC nonce are derived from the state with the server secret instead of being
 * stored: the state row then holds nothing secret (only the state's hash), and the callback can rebuild
 * both once the state has proved itself against the cookie and the store.
 */
const pkceVerifier = (deps: Deps, state: string): Promise<string> =>
  hmacBase64url(deps.config.SECRET_KEY, "oauth-pkce-verifier", state);
const oidcNonce = (deps: Deps, state: string): Promise<string> =>
  hmacBase64url(deps.config.SECRET_KEY, "oauth-nonce", state);

export interface AuthorizationStart {
  url: string;
  state: string;
}

/** Starts the authorization-code flow: a fresh single-use state (10 minutes), PKCE S256 and a nonce. */
export async function startAuthorization(
  deps: Deps,
  name: OAuthProviderName,
  redirectTo: string | null,
  /** `?link=true` with a bearer token: the identity will be linked to this signed-in user. */
  linkUserId: string | null = null,
): Promise<AuthorizationStart> {
  const provider = oauthProvider(deps, name);
  if (redirectTo !== null && !isAllowedOAuthRedirect(deps.config, redirectTo))
    throw new AppError("invalid_redirect");
  const state = randomToken(32);
  const now = deps.now();
  await deps.db.tokens.create({
    tokenHash: await hashToken(state),
    purpose: "oauth_state",
    userId: null,
    data: { provider: name, redirect_to: redirectTo, link_user_id: linkUserId },
    expiresAt: new Date(now.getTime() + OAUTH_STATE_TTL_SECONDS * 1000),
    now,
  });
  const url = provider.authorizationUrl(state, await pkceVerifier(deps, state), await oidcNonce(deps, state));
  return { url: url.toString(), state };
}

export interface CallbackParams {
  code?: string;
  state?: string;
  error?: string;
}

export type CallbackOutcome =
  | { kind: "result"; result: SignInResult }
  /** redirect_to: the browser goes back with a one-time code, never with tokens (RFC 9700 §4.3). */
  | { kind: "redirect"; location: string };

/**
 * The provider's redirect back. The state must match the browser's cookie (login CSRF: an attacker's
 * code cannot be planted in a victim's browser) and is consumed from the store (single use).
 */
export async function completeCallback(
  deps: Deps,
  name: OAuthProviderName,
  params: CallbackParams,
  cookieState: string | undefined,
  meta: RequestMeta,
): Promise<CallbackOutcome> {
  const provider = oauthProvider(deps, name);
  const { state } = params;
  if (!state || !cookieState || !constantTimeEqual(state, cookieState)) throw new AppError("invalid_state");
  const consumed = await deps.db.tokens.consume("oauth_state", await hashToken(state), deps.now());
  if (!consumed || consumed.data?.provider !== name) throw new AppError("invalid_state");
  if (params.error || !params.code) throw new AppError("oauth_failed");

  const verifier = provider.pkce ? await pkceVerifier(deps, state) : null;
  const profile = await fromProvider(
    provider.exchangeCode(params.code, verifier, redirectUriFor(deps, name), await oidcNonce(deps, state)),
    "oauth_failed",
  );
  const linkUserId = typeof consumed.data.link_user_id === "string" ? consumed.data.link_user_id : null;
  const linkTo = linkUserId ? await deps.db.users.findById(linkUserId) : null;
  if (linkUserId && !linkTo) throw new AppError("oauth_failed");
  const user = await signedInUser(deps, name, profile, meta, linkTo);
  const stored = typeof consumed.data.redirect_to === "string" ? consumed.data.redirect_to : null;
  // Re-checked: the allowlist may have shrunk since the flow started.
  if (stored && isAllowedOAuthRedirect(deps.config, stored)) {
    const code = await issueSignInCode(deps, user, name);
    return { kind: "redirect", location: withSignInCode(stored, code) };
  }
  return { kind: "result", result: await completeSignIn(deps, user, name, meta) };
}

/** `POST /auth/{provider}` with a token the client obtained itself (Google ID token, Facebook access token). */
export async function signInWithProviderToken(
  deps: Deps,
  name: OAuthProviderName,
  token: string,
  meta: RequestMeta,
): Promise<SignInResult> {
  const provider = oauthProvider(deps, name);
  const profile = await fromProvider(provider.profileFromToken(token), "invalid_provider_token");
  return completeSignIn(deps, await signedInUser(deps, name, profile, meta, null), name, meta);
}

/** `POST /auth/{provider}` with an authorization code the client obtained (its own PKCE verifier). */
export async function signInWithProviderCode(
  deps: Deps,
  name: OAuthProviderName,
  code: string,
  verifier: string | null,
  redirectUri: string | undefined,
  meta: RequestMeta,
): Promise<SignInResult> {
  const provider = oauthProvider(deps, name);
  const ours = redirectUriFor(deps, name);
  const uri = redirectUri ?? ours;
  if (!isAllowedRedirect(deps.config, uri, [ours])) throw new AppError("invalid_redirect");
  const profile = await fromProvider(
    provider.exchangeCode(code, verifier, uri, null),
    "invalid_provider_token",
  );
  return completeSignIn(deps, await signedInUser(deps, name, profile, meta, null), name, meta);
}

async function fromProvider<T>(call: Promise<T>, rejected: ErrorCodeName): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ProviderRejected || err instanceof IdTokenRejected)
      throw new AppError(rejected, { cause: err });
    if (err instanceof ProviderUnavailable) {
      console.error(
        JSON.stringify({ level: "error", msg: "oauth provider unavailable", error: err.message }),
      );
      throw new AppError("provider_unavailable", { cause: err });
    }
    throw err;
  }
}

/** The active local user behind a provider identity; the first factor is proven (audited as oauth_login). */
async function signedInUser(
  deps: Deps,
  provider: OAuthProviderName,
  profile: OAuthProfile,
  meta: RequestMeta,
  linkTo: User | null,
): Promise<User> {
  const { user, created } = await resolveOAuthUser(deps, provider, profile, meta, linkTo);
  if (!user.isActive) {
    recordEvent(deps, meta, {
      action: "login_failed",
      userId: user.id,
      metadata: { reason: "disabled", method: provider },
    });
    throw new AppError("account_disabled");
  }
  // The provider vouched for the first factor; completeSignIn decides whether a second one is due.
  recordEvent(deps, meta, { action: "oauth_login", userId: user.id, metadata: { provider, created } });
  return user;
}
