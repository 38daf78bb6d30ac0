// edge-auth/verify: a Hono middleware for other Workers that accepts only this service's access tokens.
// It imports no server code (the User type only), so another Worker's bundle gets this file and jose.
import type { Context, MiddlewareHandler } from "hono";
import { errors, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { User } from "../client/types";
import { type FetcherLike, hmacKey, localKeys, remoteKeys } from "./keys";

export type { FetcherLike };

export interface VerifyOptions {
  /** The service's JWT_ISSUER (default there: its APP_URL). */
  issuer: string;
  /** The service's JWT_AUDIENCE (default there: its APP_URL). */
  audience: string;
  /**
   * HS256: the service's SECRET_KEY. Whoever holds it can also mint tokens (and it roots the service's
   * other derived keys): prefer ES256/EdDSA with `jwks` for other Workers.
   */
  secret?: string;
  /**
   * ES256/EdDSA: the service's public keys. `{ keys }` as published, or fetched and cached from `url`
   * (default `${issuer}/.well-known/jwks.json`), through `fetcher` (a service binding) when given.
   */
  jwks?: JSONWebKeySet | { url?: string; fetcher?: FetcherLike };
  /** Narrows the asymmetric algorithms accepted with `jwks` (default both the service can sign with). */
  algorithms?: Array<"ES256" | "EdDSA">;
  /**
   * Also ask the service whether the session is still alive (GET /auth/me through the binding): a
   * signed-out or revoked session, or a disabled account, is refused at once instead of when the token
   * expires. Costs one call to the service per request; `c.var.authUser` then holds the user.
   */
  session?: { fetcher: FetcherLike; url?: string };
  /** Seconds of clock skew tolerated on exp/nbf/iat (default 30, as the service). */
  clockToleranceSeconds?: number;
}

/** What a verified access token says. */
export interface VerifiedToken {
  userId: string;
  sessionId: string;
  jti: string;
  /** Seconds since the epoch. */
  exp: number;
  /** The session's last proof of a credential (seconds), when it had one. */
  authTime: number | null;
  payload: JWTPayload;
}

export type VerifyVariables = {
  auth: VerifiedToken;
  /** Set only with `session`: the user as the service answered it on this request. */
  authUser?: User;
};

// RFC 9068: the service types its access tokens, so no other JWT it signs (or anyone else's) passes.
const ACCESS_TOKEN_TYP = "at+jwt";
// RFC 6750 §2.1 b64token.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

type Refusal = { status: 401 | 429 | 503; code: string; detail: string; retryAfter?: string };

function problem(r: Refusal): Response {
  const headers = new Headers({
    "Content-Type": "application/problem+json; charset=utf-8",
    "Cache-Control": "no-store",
  });
  if (r.status === 401) {
    headers.set(
      "WWW-Authenticate",
      r.code === "invalid_token" ? 'Bearer error="invalid_token"' : 'Bearer realm="edge-auth"',
    );
  }
  if (r.retryAfter) headers.set("Retry-After", r.retryAfter);
  const title = { 401: "Unauthorized", 429: "Too Many Requests", 503: "Service Unavailable" }[r.status];
  return new Response(
    JSON.stringify({
      type: `about:blank#${r.code}`,
      title,
      status: r.status,
      detail: r.detail,
      code: r.code,
    }),
    { status: r.status, headers },
  );
}

const INVALID: Refusal = { status: 401, code: "invalid_token", detail: "The token is invalid or expired." };
const UNAVAILABLE: Refusal = {
  status: 503,
  code: "auth_unavailable",
  detail: "The authentication service could not be reached; try again shortly.",
};

function baseUrl(issuer: string, what: string): string {
  if (!/^https?:\/\//i.test(issuer)) throw new TypeError(`edge-auth/verify: set ${what} (issuer is no URL)`);
  return issuer.replace(/\/+$/, "");
}

function keysOf(o: VerifyOptions): { key: JWTVerifyGetKey | Promise<CryptoKey>; algorithms: string[] } {
  if (o.secret !== undefined && o.jwks !== undefined) {
    throw new TypeError("edge-auth/verify: give either secret (HS256) or jwks (ES256/EdDSA), not both");
  }
  if (o.secret !== undefined) {
    if (o.secret.length === 0) throw new TypeError("edge-auth/verify: secret is empty");
    return { key: hmacKey(o.secret), algorithms: ["HS256"] };
  }
  if (!o.jwks) throw new TypeError("edge-auth/verify: give secret (HS256) or jwks (ES256/EdDSA)");
  // Pinned: a token claiming HS256 is never checked against a public key (algorithm confusion).
  const algorithms = o.algorithms ?? ["ES256", "EdDSA"];
  if ("keys" in o.jwks) return { key: localKeys(o.jwks), algorithms };
  const url = o.jwks.url ?? `${baseUrl(o.issuer, "jwks.url")}/.well-known/jwks.json`;
  return { key: remoteKeys(url, o.jwks.fetcher), algorithms };
}

/** Signature and claims, locally. A Refusal for a bad token (401) or unreachable keys (503). */
async function verifyLocally(o: VerifyOptions, token: string): Promise<VerifiedToken | Refusal> {
  const { key, algorithms } = keysOf(o);
  let payload: JWTPayload;
  try {
    const resolved = key instanceof Promise ? await key : key;
    const options = {
      algorithms,
      typ: ACCESS_TOKEN_TYP,
      issuer: o.issuer,
      audience: o.audience,
      clockTolerance: o.clockToleranceSeconds ?? 30,
      requiredClaims: ["sub", "exp", "iat", "jti", "sid"],
    };
    ({ payload } =
      typeof resolved === "function"
        ? await jwtVerify(token, resolved, options)
        : await jwtVerify(token, resolved, options));
  } catch (err) {
    // The keys could not be fetched: not the caller's fault, and not a reason to let anyone in.
    const keysUnavailable =
      !(err instanceof errors.JOSEError) ||
      err.code === "ERR_JWKS_TIMEOUT" ||
      err.code === "ERR_JWKS_INVALID" ||
      (err.code === "ERR_JOSE_GENERIC" && /JWKS|fetch|response/i.test(err.message));
    return keysUnavailable ? UNAVAILABLE : INVALID;
  }
  const { sub, sid, jti, exp, auth_time } = payload;
  if (
    typeof sub !== "string" ||
    typeof sid !== "string" ||
    typeof jti !== "string" ||
    typeof exp !== "number"
  ) {
    return INVALID;
  }
  return {
    userId: sub,
    sessionId: sid,
    jti,
    exp,
    authTime: typeof auth_time === "number" ? auth_time : null,
    payload,
  };
}

/** Asks the service whether the session behind `token` is alive; its answer decides. */
async function checkSession(
  o: VerifyOptions,
  session: NonNullable<VerifyOptions["session"]>,
  c: Context,
  token: string,
  userId: string,
): Promise<User | Refusal> {
  const url = session.url ?? `${baseUrl(o.issuer, "session.url")}/auth/me`;
  const headers = new Headers({ Authorization: `Bearer ${token}`, Accept: "application/json" });
  // The service limits per client IP: forward the end user's, or every user of this Worker would share
  // one bucket (a binding call carries no CF-Connecting-IP of its own).
  for (const name of ["CF-Connecting-IP", "X-Request-Id", "User-Agent"]) {
    const value = c.req.header(name);
    if (value) headers.set(name, value);
  }
  let res: Response;
  try {
    res = await session.fetcher.fetch(new Request(url, { method: "GET", headers }));
  } catch {
    return UNAVAILABLE;
  }
  if (res.status === 401) return INVALID;
  if (res.status === 429) {
    return {
      status: 429,
      code: "rate_limited",
      detail: "Too many requests; try again later.",
      retryAfter: res.headers.get("Retry-After") ?? "60",
    };
  }
  if (res.status !== 200) return UNAVAILABLE;
  const user = (await res.json().catch(() => null)) as User | null;
  // The service answered for another account than the token names: refuse rather than guess.
  if (!user || user.id !== userId) return UNAVAILABLE;
  return user;
}

/**
 * Requires `Authorization: Bearer <access token of this service>`: signature (algorithm pinned), typ,
 * iss, aud, exp/nbf, and the claims the service always sets; optionally the live session. Sets
 * `c.var.auth` (and `c.var.authUser` with `session`); otherwise answers 401 problem+json with
 * `WWW-Authenticate` (RFC 6750), 429 when the service rate-limited the session check, 503 when the keys
 * or the service could not be reached. Options may depend on the request (`(c) => ({ ... c.env ... })`).
 */
export function verifyAccessToken<B extends object = object>(
  options: VerifyOptions | ((c: Context<{ Bindings: B; Variables: VerifyVariables }>) => VerifyOptions),
): MiddlewareHandler<{ Bindings: B; Variables: VerifyVariables }> {
  return async (c, next) => {
    const o = typeof options === "function" ? options(c) : options;
    const match = BEARER.exec(c.req.header("Authorization") ?? "");
    if (!match) return problem({ status: 401, code: "unauthorized", detail: "Not authenticated." });
    const token = match[1]!;
    const verified = await verifyLocally(o, token);
    if ("status" in verified) return problem(verified);
    if (o.session) {
      const user = await checkSession(o, o.session, c, token, verified.userId);
      if ("status" in user) return problem(user);
      c.set("authUser", user);
    }
    c.set("auth", verified);
    await next();
  };
}
