import { recordEvent } from "../audit/record";
import { completeSignIn, type MfaChallenge, type TokenResponse } from "../auth/sign-in";
import { hashToken } from "../auth/tokens";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { AppError, type ErrorCodeName } from "../errors";
import { constantTimeEqual, hmacBase64url, randomToken } from "../lib/crypto";
import type { OAuthProviderName } from "../storage/types";
import { resolveOAuthUser } from "./link";
import {
  IdTokenRejected,
  type OAuthProfile,
  oauthProvider,
  ProviderRejected,
  ProviderUnavailable,
  redirectUriFor,
} from "./providers";
import { isAllowedRedirect } from "./redirects";

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
): Promise<AuthorizationStart> {
  const provider = oauthProvider(deps, name);
  if (redirectTo !== null && !isAllowedRedirect(deps.config, redirectTo))
    throw new AppError("invalid_redirect");
  const state = randomToken(32);
  const now = deps.now();
  await deps.db.tokens.create({
    tokenHash: await hashToken(state),
    purpose: "oauth_state",
    userId: null,
    data: { provider: name, redirect_to: redirectTo },
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

export interface CallbackOutcome {
  result: SignInResult;
  redirectTo: string | null;
}

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
  const result = await signInWithProfile(deps, name, profile, meta);
  const stored = typeof consumed.data.redirect_to === "string" ? consumed.data.redirect_to : null;
  // Re-checked: the allowlist may have shrunk since the flow started.
  const redirectTo = stored && isAllowedRedirect(deps.config, stored) ? stored : null;
  return { result, redirectTo };
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
  return signInWithProfile(deps, name, profile, meta);
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
  return signInWithProfile(deps, name, profile, meta);
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

async function signInWithProfile(
  deps: Deps,
  provider: OAuthProviderName,
  profile: OAuthProfile,
  meta: RequestMeta,
): Promise<SignInResult> {
  const { user, created } = await resolveOAuthUser(deps, provider, profile, meta);
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
  return completeSignIn(deps, user, provider, meta);
}

/** The URL-fragment form of a sign-in result, for a redirect_to (fragments never reach servers or logs). */
export function resultFragment(result: SignInResult): string {
  const params = new URLSearchParams();
  if ("mfa_required" in result) {
    params.set("mfa_token", result.mfa_token);
    params.set("mfa_required", "true");
    params.set("expires_in", String(result.expires_in));
  } else {
    params.set("access_token", result.access_token);
    params.set("refresh_token", result.refresh_token);
    params.set("token_type", result.token_type);
    params.set("expires_in", String(result.expires_in));
  }
  return params.toString();
}
