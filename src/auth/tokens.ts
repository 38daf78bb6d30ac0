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
import type { EphemeralStore, User, UserRepository } from "../storage/types";
import { type LegacyToken, revokedSince, verifyLegacyToken } from "./legacy-tokens";

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
  now: Date,
): Promise<IssuedAccessToken> {
  const keys = await keysFor(config);
  const jti = crypto.randomUUID();
  const iat = Math.floor(now.getTime() / 1000);
  const expiresIn = config.ACCESS_TOKEN_EXPIRE_MINUTES * 60;
  const token = await new SignJWT({ sid: sessionId })
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

/** Verifies signature (algorithm pinned), typ, iss, aud, exp and nbf; does not check revocation. */
export async function verifyAccessTokenSignature(
  config: Config,
  token: string,
  now: Date,
): Promise<AuthContext> {
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
  return { userId: sub, sessionId: sid, jti, exp };
}

export const revokedSessionKey = (sid: string): string => `revoked:sid:${sid}`;
export const revokedTokenKey = (jti: string): string => `revoked:jti:${jti}`;

/**
 * Full verification: signature and claims, then the revocation denylist (fails closed if it can't run) and
 * the account, read together so an authenticated request costs one round trip to each store. A deleted or
 * deactivated account makes the token invalid at once, whatever KV says.
 */
export async function authenticate(
  config: Config,
  ephemeral: EphemeralStore,
  users: UserRepository,
  token: string,
  now: Date,
): Promise<{ auth: AuthContext; user: User }> {
  let auth: AuthContext;
  let legacy: LegacyToken | null = null;
  try {
    auth = await verifyAccessTokenSignature(config, token, now);
  } catch (err) {
    // During the cut-over, an access token of the FastAPI service is good for the rest of its life.
    legacy = await verifyLegacyToken(config, token, "access", now);
    if (!legacy) throw err;
    // It has no session of ours: its jti stands for one, so signing out with it denylists it.
    auth = { userId: legacy.userId, sessionId: `legacy:${legacy.jti}`, jti: legacy.jti, exp: legacy.exp };
  }
  const [[bySession, byToken], user] = await Promise.all([
    ephemeral.getMany([revokedSessionKey(auth.sessionId), revokedTokenKey(auth.jti)]),
    users.findById(auth.userId),
  ]);
  if (bySession !== null || byToken !== null || !user?.isActive) throw new AppError("invalid_access_token");
  if (legacy && revokedSince(user.sessionsRevokedAt, legacy)) throw new AppError("invalid_access_token");
  return { auth, user };
}

/** Denylists access tokens of revoked sessions for as long as any of them can still be valid. */
export async function denylistSessions(
  config: Config,
  ephemeral: EphemeralStore,
  sessionIds: string[],
  jti?: string,
): Promise<void> {
  const ttl = config.ACCESS_TOKEN_EXPIRE_MINUTES * 60 + CLOCK_TOLERANCE_SECONDS;
  await Promise.all([
    ...sessionIds.map((sid) => ephemeral.set(revokedSessionKey(sid), "1", ttl)),
    ...(jti ? [ephemeral.set(revokedTokenKey(jti), "1", ttl)] : []),
  ]);
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
