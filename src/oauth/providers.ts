import { encodeHexLowerCase } from "@oslojs/encoding";
import { Facebook, Google, OAuth2Tokens } from "arctic";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import type { OAuthProviderName } from "../storage/types";
import { IdTokenRejected, ProviderUnavailable, verifyGoogleIdToken } from "./google-id-token";

export { IdTokenRejected, ProviderUnavailable };

/** What we keep of a provider identity. Accounts are keyed by (provider, providerUserId), never by email. */
export interface OAuthProfile {
  providerUserId: string;
  email: string | null;
  /**
   * true: the provider vouches that the user controls `email`; false: it says the address is unverified;
   * null: it asserts nothing (Facebook), so the address proves nothing here.
   */
  emailVerified: boolean | null;
  name: string | null;
}

/**
 * Our seam over the OAuth library (arctic today; its upstream is winding down). Everything outbound goes
 * through deps.fetch, so the library only builds URLs.
 */
export interface OAuthProvider {
  readonly name: OAuthProviderName;
  /** Whether the authorization request carries a PKCE challenge, so the callback must send the verifier. */
  readonly pkce: boolean;
  /** `verifier` and `nonce` are ignored by providers that do not support them. */
  authorizationUrl(state: string, verifier: string, nonce: string): URL;
  /** Redeems an authorization code; `nonce`, when given, must be echoed in the ID token. */
  exchangeCode(
    code: string,
    verifier: string | null,
    redirectUri: string,
    nonce?: string | null,
  ): Promise<OAuthProfile>;
  /** A token a client obtained itself: a Google ID token or a Facebook user access token. */
  profileFromToken(token: string): Promise<OAuthProfile>;
}

/** The provider refused the code or token (or answered something we cannot trust). */
export class ProviderRejected extends Error {
  override name = "ProviderRejected";
}

export function redirectUriFor(deps: Deps, name: OAuthProviderName): string {
  return `${deps.config.APP_URL}/auth/${name}/callback`;
}

/** The configured provider, or 404 provider_not_configured. */
export function oauthProvider(deps: Deps, name: OAuthProviderName): OAuthProvider {
  const c = deps.config;
  if (name === "google" && c.GOOGLE_CLIENT_ID && c.GOOGLE_CLIENT_SECRET)
    return new GoogleProvider(deps, c.GOOGLE_CLIENT_ID, c.GOOGLE_CLIENT_SECRET);
  if (name === "facebook" && c.FACEBOOK_CLIENT_ID && c.FACEBOOK_CLIENT_SECRET)
    return new FacebookProvider(deps, c.FACEBOOK_CLIENT_ID, c.FACEBOOK_CLIENT_SECRET);
  throw new AppError("provider_not_configured");
}

async function readJson(deps: Deps, request: Request): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await deps.fetch(request);
  } catch (err) {
    throw new ProviderUnavailable(`${new URL(request.url).host} unreachable`, { cause: err });
  }
  const body: unknown = await res.json().catch(() => null);
  // 4xx: the provider rejected what we sent on the user's behalf (bad code, expired token).
  if (res.status >= 400 && res.status < 500) throw new ProviderRejected(`provider answered ${res.status}`);
  if (res.status !== 200 || typeof body !== "object" || body === null)
    throw new ProviderUnavailable(`provider answered ${res.status}`);
  return body as Record<string, unknown>;
}

function postForm(url: string, form: Record<string, string>): Request {
  return new Request(url, {
    method: "POST",
    // Credentials go in the body, never in the URL (URLs end up in logs).
    body: new URLSearchParams(form).toString(),
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
  });
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const GOOGLE_SCOPES = ["openid", "email", "profile"];

class GoogleProvider implements OAuthProvider {
  readonly name = "google" as const;
  readonly pkce = true;

  constructor(
    private readonly deps: Deps,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  authorizationUrl(state: string, verifier: string, nonce: string): URL {
    const client = new Google(this.clientId, this.clientSecret, redirectUriFor(this.deps, "google"));
    const url = client.createAuthorizationURL(state, verifier, GOOGLE_SCOPES);
    url.searchParams.set("nonce", nonce);
    return url;
  }

  async exchangeCode(
    code: string,
    verifier: string | null,
    redirectUri: string,
    nonce: string | null = null,
  ): Promise<OAuthProfile> {
    const form: Record<string, string> = {
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri,
      client_id: this.clientId,
      client_secret: this.clientSecret,
    };
    if (verifier) form.code_verifier = verifier;
    const tokens = new OAuth2Tokens(await readJson(this.deps, postForm(GOOGLE_TOKEN_URL, form)));
    let idToken: string;
    try {
      idToken = tokens.idToken();
    } catch (err) {
      throw new ProviderRejected("no id_token in the token response", { cause: err });
    }
    return this.fromIdToken(idToken, nonce);
  }

  profileFromToken(idToken: string): Promise<OAuthProfile> {
    return this.fromIdToken(idToken, null);
  }

  private async fromIdToken(idToken: string, nonce: string | null): Promise<OAuthProfile> {
    const claims = await verifyGoogleIdToken(this.deps, idToken, this.clientId, nonce);
    const sub = str(claims.sub);
    if (!sub) throw new IdTokenRejected("no sub");
    const email = str(claims.email);
    return {
      providerUserId: sub,
      email,
      // Older tokens carried the string "true".
      emailVerified: email !== null && (claims.email_verified === true || claims.email_verified === "true"),
      name: str(claims.name),
    };
  }
}

const GRAPH = "https://graph.facebook.com/v21.0";
const FACEBOOK_SCOPES = ["email", "public_profile"];

async function hmacSha256Hex(key: string, value: string): Promise<string> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return encodeHexLowerCase(new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(value))));
}

class FacebookProvider implements OAuthProvider {
  readonly name = "facebook" as const;
  readonly pkce = false;

  constructor(
    private readonly deps: Deps,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  authorizationUrl(state: string): URL {
    const client = new Facebook(this.clientId, this.clientSecret, redirectUriFor(this.deps, "facebook"));
    return client.createAuthorizationURL(state, FACEBOOK_SCOPES);
  }

  async exchangeCode(code: string, _verifier: string | null, redirectUri: string): Promise<OAuthProfile> {
    const form = {
      code,
      redirect_uri: redirectUri,
      client_id: this.clientId,
      client_secret: this.clientSecret,
    };
    const tokens = new OAuth2Tokens(await readJson(this.deps, postForm(`${GRAPH}/oauth/access_token`, form)));
    let accessToken: string;
    try {
      accessToken = tokens.accessToken();
    } catch (err) {
      throw new ProviderRejected("no access_token in the token response", { cause: err });
    }
    return this.profileFromToken(accessToken);
  }

  /**
   * A user access token is only proof of identity if it was issued to OUR app: a token from any other
   * app would otherwise sign its holder in as that user (the "confused deputy" of implicit-flow logins).
   */
  async profileFromToken(accessToken: string): Promise<OAuthProfile> {
    const debugUrl = new URL(`${GRAPH}/debug_token`);
    debugUrl.searchParams.set("input_token", accessToken);
    debugUrl.searchParams.set("access_token", `${this.clientId}|${this.clientSecret}`);
    const debug = await readJson(
      this.deps,
      new Request(debugUrl, { headers: { Accept: "application/json" } }),
    );
    const data = (debug.data ?? null) as Record<string, unknown> | null;
    if (data?.is_valid !== true || String(data.app_id) !== this.clientId)
      throw new ProviderRejected("token not valid for this app");

    const meUrl = new URL(`${GRAPH}/me`);
    meUrl.searchParams.set("fields", "id,name,email");
    // appsecret_proof: Graph refuses the call unless it comes from the holder of our app secret.
    meUrl.searchParams.set("appsecret_proof", await hmacSha256Hex(this.clientSecret, accessToken));
    const me = await readJson(
      this.deps,
      new Request(meUrl, { headers: { Authorization: `Bearer ${accessToken}`, Accept: "application/json" } }),
    );
    const id = me.id === undefined || me.id === null ? null : String(me.id);
    if (!id || (data.user_id !== undefined && String(data.user_id) !== id))
      throw new ProviderRejected("token and profile disagree");
    const email = str(me.email);
    return {
      providerUserId: id,
      email,
      // Graph has no "verified" claim, and an address confirmed with Facebook once may have changed hands
      // since: Facebook asserts nothing about the email (API.md "Tightened rules").
      emailVerified: null,
      name: str(me.name),
    };
  }
}
