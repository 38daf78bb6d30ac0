import { calculateJwkThumbprint, exportJWK, type JWK, type JWTPayload, SignJWT } from "jose";
import { type ApiResponse, type TestClient, testClient } from "../helpers";

export const GOOGLE_CLIENT_ID = "test-client.apps.googleusercontent.com";
export const GOOGLE_CLIENT_SECRET = "google-test-secret";
export const FACEBOOK_CLIENT_ID = "1234567890";
export const FACEBOOK_CLIENT_SECRET = "facebook-test-secret";
export const APP_URL = "https://auth.example.test";
export const ALLOWED_REDIRECT = "https://app.example.test/signed-in";

export const OAUTH_ENV = {
  GOOGLE_CLIENT_ID,
  GOOGLE_CLIENT_SECRET,
  FACEBOOK_CLIENT_ID,
  FACEBOOK_CLIENT_SECRET,
  OAUTH_REDIRECT_ALLOWLIST: `${ALLOWED_REDIRECT}, https://spa.example.test/`,
};

interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
}

async function newKey(kid?: string): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const jwk = await exportJWK(pair.publicKey);
  const id = kid ?? (await calculateJwkThumbprint(jwk));
  return { privateKey: pair.privateKey, publicJwk: { ...jwk, kid: id, alg: "RS256", use: "sig" }, kid: id };
}

// One "Google" key per test file: the service caches Google's JWKS per isolate, as in production.
let googleKey: Promise<SigningKey> | undefined;
const currentGoogleKey = (): Promise<SigningKey> => {
  googleKey ??= newKey();
  return googleKey;
};

export interface GoogleClaims {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface FacebookUser {
  id: string;
  name?: string;
  email?: string;
}

export interface IdTokenOptions {
  aud?: string;
  iss?: string;
  /** Seconds since the epoch. */
  exp?: number;
  nonce?: string;
  /** Sign with a key Google never published (same kid): a forged signature. */
  forged?: boolean;
}

async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

async function hmacHex(key: string, value: string): Promise<string> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(value)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const jsonResponse = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/**
 * Google's and Facebook's HTTP endpoints, and nothing else: every other outbound request fails the test.
 * The fake enforces what the real providers enforce (client credentials, redirect_uri, PKCE, single-use
 * codes, appsecret_proof), so a passing test means the service spoke the protocol correctly.
 */
export class FakeProviders {
  readonly requests: string[] = [];
  /** When set, Google's token endpoint answers 503 (an outage, not the client's fault). */
  googleDown = false;
  private readonly googleCodes = new Map<
    string,
    { claims: GoogleClaims; challenge: string | null; nonce: string | null; redirectUri: string }
  >();
  private readonly facebookCodes = new Map<string, { token: string; redirectUri: string }>();
  private readonly facebookTokens = new Map<string, { appId: string; user: FacebookUser }>();

  /** An authorization code Google would hand back after consent. */
  googleCode(
    claims: GoogleClaims,
    opts: { challenge?: string | null; nonce?: string | null; redirectUri?: string } = {},
  ): string {
    const code = `g-code-${crypto.randomUUID()}`;
    this.googleCodes.set(code, {
      claims,
      challenge: opts.challenge ?? null,
      nonce: opts.nonce ?? null,
      redirectUri: opts.redirectUri ?? `${APP_URL}/auth/google/callback`,
    });
    return code;
  }

  /** A real RS256-signed Google ID token. */
  async idToken(claims: GoogleClaims, opts: IdTokenOptions = {}): Promise<string> {
    const key = await currentGoogleKey();
    const signingKey = opts.forged ? (await newKey(key.kid)).privateKey : key.privateKey;
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = { ...claims, ...(opts.nonce ? { nonce: opts.nonce } : {}) };
    return new SignJWT(payload)
      .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
      .setIssuer(opts.iss ?? "https://accounts.google.com")
      .setAudience(opts.aud ?? GOOGLE_CLIENT_ID)
      .setIssuedAt(now - 10)
      .setExpirationTime(opts.exp ?? now + 3600)
      .sign(signingKey);
  }

  /** A Facebook user access token issued to `appId` (our app unless said otherwise). */
  facebookToken(user: FacebookUser, appId = FACEBOOK_CLIENT_ID): string {
    const token = `EAA${crypto.randomUUID().replace(/-/g, "")}`;
    this.facebookTokens.set(token, { appId, user });
    return token;
  }

  facebookCode(user: FacebookUser, redirectUri = `${APP_URL}/auth/facebook/callback`): string {
    const code = `fb-code-${crypto.randomUUID()}`;
    this.facebookCodes.set(code, { token: this.facebookToken(user), redirectUri });
    return code;
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    this.requests.push(`${req.method} ${url.host}${url.pathname}`);
    if (req.method === "POST" && url.href === "https://oauth2.googleapis.com/token") {
      if (this.googleDown) return jsonResponse({ error: "backend_error" }, 503);
      return this.googleToken(new URLSearchParams(new TextDecoder().decode(await req.arrayBuffer())));
    }
    if (req.method === "GET" && url.href === "https://www.googleapis.com/oauth2/v3/certs")
      return jsonResponse({ keys: [(await currentGoogleKey()).publicJwk] });
    if (url.host === "graph.facebook.com") {
      if (req.method === "POST" && url.pathname.endsWith("/oauth/access_token"))
        return this.facebookExchange(new URLSearchParams(new TextDecoder().decode(await req.arrayBuffer())));
      if (req.method === "GET" && url.pathname.endsWith("/debug_token")) return this.facebookDebug(url);
      if (req.method === "GET" && url.pathname.endsWith("/me")) return this.facebookMe(req, url);
    }
    throw new Error(`unexpected outbound request: ${req.method} ${req.url}`);
  };

  private async googleToken(form: URLSearchParams): Promise<Response> {
    const code = form.get("code") ?? "";
    const grant = this.googleCodes.get(code);
    this.googleCodes.delete(code); // codes are single-use
    if (form.get("client_id") !== GOOGLE_CLIENT_ID || form.get("client_secret") !== GOOGLE_CLIENT_SECRET)
      return jsonResponse({ error: "invalid_client" }, 401);
    if (
      !grant ||
      form.get("grant_type") !== "authorization_code" ||
      form.get("redirect_uri") !== grant.redirectUri
    )
      return jsonResponse({ error: "invalid_grant" }, 400);
    if (grant.challenge !== null && (await s256(form.get("code_verifier") ?? "")) !== grant.challenge)
      return jsonResponse({ error: "invalid_grant", error_description: "Invalid code verifier." }, 400);
    const idToken = await this.idToken(grant.claims, grant.nonce ? { nonce: grant.nonce } : {});
    return jsonResponse({
      access_token: "ya29.fake",
      id_token: idToken,
      token_type: "Bearer",
      expires_in: 3599,
    });
  }

  private facebookExchange(form: URLSearchParams): Response {
    const code = form.get("code") ?? "";
    const grant = this.facebookCodes.get(code);
    this.facebookCodes.delete(code);
    if (
      form.get("client_id") !== FACEBOOK_CLIENT_ID ||
      form.get("client_secret") !== FACEBOOK_CLIENT_SECRET ||
      !grant ||
      form.get("redirect_uri") !== grant.redirectUri
    )
      return jsonResponse(
        { error: { message: "Invalid verification code format.", type: "OAuthException", code: 100 } },
        400,
      );
    return jsonResponse({ access_token: grant.token, token_type: "bearer", expires_in: 5183944 });
  }

  private facebookDebug(url: URL): Response {
    if (url.searchParams.get("access_token") !== `${FACEBOOK_CLIENT_ID}|${FACEBOOK_CLIENT_SECRET}`)
      return jsonResponse({ error: { message: "Invalid OAuth access token.", code: 190 } }, 400);
    const known = this.facebookTokens.get(url.searchParams.get("input_token") ?? "");
    if (!known) return jsonResponse({ data: { is_valid: false, error: { code: 190 } } });
    return jsonResponse({
      data: { app_id: known.appId, type: "USER", is_valid: true, user_id: known.user.id, scopes: ["email"] },
    });
  }

  private async facebookMe(req: Request, url: URL): Promise<Response> {
    const token = /^Bearer (.+)$/.exec(req.headers.get("Authorization") ?? "")?.[1] ?? "";
    const known = this.facebookTokens.get(token);
    if (!known) return jsonResponse({ error: { message: "Invalid OAuth access token.", code: 190 } }, 400);
    // Graph checks appsecret_proof against the secret of the app the token belongs to.
    if (url.searchParams.get("appsecret_proof") !== (await hmacHex(FACEBOOK_CLIENT_SECRET, token)))
      return jsonResponse({ error: { message: "Invalid appsecret_proof", code: 100 } }, 400);
    const { id, name, email } = known.user;
    return jsonResponse({ id, ...(name ? { name } : {}), ...(email ? { email } : {}) });
  }
}

export interface OAuthHarness {
  client: TestClient;
  fake: FakeProviders;
}

export function oauthClient(envOverrides: Record<string, unknown> = {}): OAuthHarness {
  const fake = new FakeProviders();
  const client = testClient({ fetch: fake.fetch }, { ...OAUTH_ENV, ...envOverrides });
  return { client, fake };
}

export interface StartedFlow {
  location: URL;
  state: string;
  cookie: string;
  setCookie: string;
}

export async function startFlow(
  client: TestClient,
  provider: "google" | "facebook",
  query = "",
): Promise<StartedFlow> {
  const res = await client.call("GET", `/auth/${provider}/authorize${query}`);
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${res.text}`);
  const location = new URL(res.headers.get("Location") ?? "");
  const setCookie = res.headers.get("Set-Cookie") ?? "";
  const cookie = /__Host-oauth_state=([^;]*)/.exec(setCookie)?.[1] ?? "";
  return { location, state: location.searchParams.get("state") ?? "", cookie, setCookie };
}

export function callback(
  client: TestClient,
  provider: "google" | "facebook",
  params: Record<string, string>,
  cookie?: string,
): Promise<ApiResponse> {
  return client.call("GET", `/auth/${provider}/callback?${new URLSearchParams(params)}`, {
    headers: cookie === undefined ? {} : { Cookie: `__Host-oauth_state=${cookie}` },
  });
}

/** The whole browser round trip through Google: authorize, consent, callback. */
export async function googleSignIn(
  harness: OAuthHarness,
  claims: GoogleClaims,
  query = "",
): Promise<ApiResponse> {
  const flow = await startFlow(harness.client, "google", query);
  const code = harness.fake.googleCode(claims, {
    challenge: flow.location.searchParams.get("code_challenge"),
    nonce: flow.location.searchParams.get("nonce"),
  });
  return callback(harness.client, "google", { code, state: flow.state }, flow.cookie);
}

/** POST /auth/google with a fresh, valid ID token. */
export async function googleIdTokenSignIn(harness: OAuthHarness, claims: GoogleClaims): Promise<ApiResponse> {
  return harness.client.call("POST", "/auth/google", {
    json: { id_token: await harness.fake.idToken(claims) },
  });
}

export const googleSub = (): string => `1${Math.floor(Math.random() * 1e15)}`;
