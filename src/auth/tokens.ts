import {
  calculateJwkThumbprint,
  exportJWK,
  importJWK,
  importPKCS8,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import type { Config } from "../config";
import type { AuthContext } from "../context";
import { AppError } from "../errors";
import { hmacBase64url, randomToken, sha256Hex } from "../lib/crypto";
import type { User, UserRepository } from "../storage/types";
import { revokedSince, verifyLegacyToken } from "./legacy-tokens";

/** RFC 9068 access-token type: nothing else we sign or issue carries it. */
const ACCESS_TOKEN_TYP = "at+jwt";
const CLOCK_TOLERANCE_SECONDS = 30;

interface SigningKeys {
  alg: Config["ALGORITHM"];
  signKey: CryptoKey | Uint8Array;
  verifyKey: CryptoKey | Uint8Array;
  kid?: string;
  publicJwk?: JWK;
}

// Keyed by the configured key material, so an isolate imports each key once.
const keyCache = new Map<string, Promise<SigningKeys>>();

async function loadKeys(config: Config): Promise<SigningKeys> {
  if (config.ALGORITHM === "HS256") {
    // Imported once: handing jose raw bytes would re-import the HMAC key on every sign and verify.
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(config.SECRET_KEY),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return { alg: "HS256", signKey: key, verifyKey: key };
  }
  const material = (config.JWT_PRIVATE_KEY ?? "").replace(/\\n/g, "\n").trim();
  let privateKey: CryptoKey;
  try {
    privateKey = material.startsWith("{")
      ? ((await importJWK(JSON.parse(material) as JWK, config.ALGORITHM, { extractable: true })) as CryptoKey)
      : await importPKCS8(material, config.ALGORITHM, { extractable: true });
  } catch (err) {
    throw new AppError("misconfigured", { cause: err });
  }
  const jwk = await exportJWK(privateKey);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = jwk;
  const kid = await calculateJwkThumbprint(publicPart);
  const publicJwk: JWK = { ...publicPart, kid, alg: config.ALGORITHM, use: "sig" };
  const verifyKey = (await importJWK(publicJwk, config.ALGORITHM)) as CryptoKey;
  return { alg: config.ALGORITHM, signKey: privateKey, verifyKey, kid, publicJwk };
}

function keysFor(config: Config): Promise<SigningKeys> {
  const cacheKey = `${config.ALGORITHM}:${config.ALGORITHM === "HS256" ? config.SECRET_KEY : config.JWT_PRIVATE_KEY}`;
  let keys = keyCache.get(cacheKey);
  if (!keys) {
    keys = loadKeys(config);
    keyCache.set(cacheKey, keys);
    keys.catch(() => keyCache.delete(cacheKey));
  }
  return keys;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
}

export async function issueAccessToken(
  config: Config,
  userId: string,
  sessionId: string,
  /**
   * The session's last proof of a credential (RFC 9068 §2.2.1 auth_time); a refresh carries it over. Null
   * when the session proved none (no auth_time claim rather than a made-up one).
   */
  authTime: Date | null,
  now: Date,
): Promise<IssuedAccessToken> {
  const keys = await keysFor(config);
  const jti = crypto.randomUUID();
  const iat = Math.floor(now.getTime() / 1000);
  const expiresIn = config.ACCESS_TOKEN_EXPIRE_MINUTES * 60;
  const claims = authTime ? { auth_time: Math.floor(authTime.getTime() / 1000) } : {};
  const token = await new SignJWT({ sid: sessionId, ...claims })
    .setProtectedHeader({ alg: keys.alg, typ: ACCESS_TOKEN_TYP, ...(keys.kid ? { kid: keys.kid } : {}) })
    .setSubject(userId)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + expiresIn)
    .setJti(jti)
    .sign(keys.signKey);
  return { token, jti, expiresIn };
}

/** What a verified access token says, before the store has been asked about its session. */
export type AccessClaims = Omit<AuthContext, "authenticatedAt">;

interface VerifiedToken {
  claims: AccessClaims;
  /** nbf, seconds since the epoch (exp is in claims). */
  nbf: number;
}

/**
 * Access tokens this isolate already verified, per configuration (keys, issuer, audience), keyed by the
 * exact token text. A client sends the same token on every request for its whole life, and jose's
 * decoding, JSON parsing, signature check and claim checks cost about as much CPU as the rest of
 * /auth/me; the outcome for the same bytes under the same configuration only changes with the clock, so
 * exp and nbf are checked again on every hit. Only tokens jose accepted get in (a forged or altered
 * token is different text, so it always meets jose), and nothing here decides revocation: authenticate
 * reads the session on every request. Bounded; the oldest entry leaves first.
 */
const verifiedTokens = new WeakMap<Config, Map<string, VerifiedToken>>();
const VERIFIED_TOKENS_MAX = 1024;

function cachedClaims(config: Config, token: string, now: Date): AccessClaims | undefined {
  const cache = verifiedTokens.get(config);
  const hit = cache?.get(token);
  if (!hit) return undefined;
  // The same tolerance jose applies: expired at exp + tolerance, valid from nbf - tolerance.
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (
    hit.claims.exp > nowSeconds - CLOCK_TOLERANCE_SECONDS &&
    hit.nbf <= nowSeconds + CLOCK_TOLERANCE_SECONDS
  )
    return hit.claims;
  // Outside its window: jose decides (and says why), and the entry is of no further use.
  cache?.delete(token);
  return undefined;
}

function rememberClaims(config: Config, token: string, claims: AccessClaims, nbf: number): void {
  let cache = verifiedTokens.get(config);
  if (!cache) {
    cache = new Map();
    verifiedTokens.set(config, cache);
  }
  if (cache.size >= VERIFIED_TOKENS_MAX) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(token, { claims, nbf });
}

/** Verifies signature (algorithm pinned), typ, iss, aud, exp and nbf; does not check revocation. */
export async function verifyAccessTokenSignature(
  config: Config,
  token: string,
  now: Date,
): Promise<AccessClaims> {
  const cached = cachedClaims(config, token, now);
  if (cached) return cached;
  const keys = await keysFor(config);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys.verifyKey, {
      algorithms: [keys.alg],
      typ: ACCESS_TOKEN_TYP,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: now,
      requiredClaims: ["sub", "exp", "iat", "jti", "sid"],
    }));
  } catch (err) {
    throw new AppError("invalid_access_token", { cause: err });
  }
  const { sub, sid, jti, exp } = payload;
  if (
    typeof sub !== "string" ||
    typeof sid !== "string" ||
    typeof jti !== "string" ||
    typeof exp !== "number"
  ) {
    throw new AppError("invalid_access_token");
  }
  const claims: AccessClaims = Object.freeze({ userId: sub, sessionId: sid, jti, exp });
  // Tokens we issue always carry nbf; one without it is valid from its iat (a required claim).
  const nbf = typeof payload.nbf === "number" ? payload.nbf : (payload.iat as number);
  rememberClaims(config, token, claims, nbf);
  return claims;
}

/**
 * Full verification: signature and claims, then the session and its account, read together in one
 * statement from the relational store, which decides: a revoked or expired session, or a deleted or
 * deactivated account, makes the token invalid at once in every location. (There is no KV denylist on
 * this path any more: KV is eventually consistent, up to 60 s, so it could only ever have said "maybe".)
 *
 * When `users` reads a D1 read replica, `primary` is given: a refusal by the replica is read again on the
 * primary before it counts, so a session created a moment ago (a replica that has not seen the sign-in
 * yet) is not refused. The other direction is the replica's trade-off: a session revoked a moment ago
 * still passes on replica-tolerant routes for as long as the replica lags (README, "Read replicas").
 */
export async function authenticate(
  config: Config,
  users: UserRepository,
  token: string,
  now: Date,
  // Legacy tokens only: whether a FastAPI token's jti was spent (signed out with POST /auth/logout).
  // Required, not defaulted: a caller that forgot it would silently accept signed-out old tokens.
  legacySpent: (jti: string) => Promise<boolean>,
  primary?: () => UserRepository,
): Promise<{ auth: AuthContext; user: User }> {
  let claims: Omit<AuthContext, "authenticatedAt">;
  try {
    claims = await verifyAccessTokenSignature(config, token, now);
  } catch (err) {
    // During the cut-over, an access token of the FastAPI service is good for the rest of its life, unless
    // its account is gone, inactive, or signed out everywhere since it was issued.
    const legacy = await verifyLegacyToken(config, token, "access", now);
    if (!legacy) throw err;
    const legacyValid = (u: User | null): u is User =>
      u?.isActive === true && !revokedSince(u.sessionsRevokedAt, legacy);
    let [user, spent] = await Promise.all([users.findById(legacy.userId), legacySpent(legacy.jti)]);
    // A spent jti stays spent, so only the account needs a second look on the primary.
    if (!spent && !legacyValid(user) && primary) user = await primary().findById(legacy.userId);
    if (spent || !legacyValid(user)) throw new AppError("invalid_access_token");
    return {
      auth: {
        userId: legacy.userId,
        sessionId: `legacy:${legacy.jti}`,
        jti: legacy.jti,
        exp: legacy.exp,
        // An old token proves no credential to this service (its issue time is only inferred from exp),
        // so it never counts as recent authentication: [recent] routes need a new sign-in.
        authenticatedAt: null,
      },
      user,
    };
  }
  const valid = (f: Awaited<ReturnType<UserRepository["findBySession"]>>): f is NonNullable<typeof f> =>
    f !== null &&
    f.session.userId === claims.userId &&
    f.session.revokedAt === null &&
    f.session.expiresAt.getTime() > now.getTime() &&
    f.user.isActive;
  let found = await users.findBySession(claims.sessionId);
  if (!valid(found) && primary) found = await primary().findBySession(claims.sessionId);
  if (!valid(found)) throw new AppError("invalid_access_token");
  return { auth: { ...claims, authenticatedAt: found.session.authenticatedAt }, user: found.user };
}

export async function publicJwks(config: Config): Promise<{ keys: JWK[] }> {
  const keys = await keysFor(config);
  return { keys: keys.publicJwk ? [keys.publicJwk] : [] };
}

/** A new opaque refresh token (256 bits from the CSPRNG). */
export function newRefreshToken(): string {
  return randomToken(32);
}

/**
 * The token that replaces `token` on rotation. Deriving it (HMAC with the server secret) instead of
 * drawing it makes rotation idempotent: concurrent refreshes with the same token inside the grace window
 * all receive the same successor, so there is only ever one live chain, while only hashes are stored.
 */
export function successorRefreshToken(config: Config, token: string): Promise<string> {
  return hmacBase64url(config.SECRET_KEY, "refresh-rotation", token);
}

/** Tokens are stored only as SHA-256 hashes (256-bit random inputs need no salt or slow hash). */
export function hashToken(token: string): Promise<string> {
  return sha256Hex(token);
}
