import { type JWTPayload, jwtVerify } from "jose";
import type { Config } from "../config";

/**
 * Tokens of the FastAPI service this one replaces: HS256 JWTs `{sub, role, exp, type, jti}` signed with
 * its SECRET_KEY, honoured during the cut-over only (LEGACY_JWT_SECRET until LEGACY_TOKENS_UNTIL). Outside
 * that window, or with any other shape, they are ordinary invalid tokens.
 */
export type LegacyTokenType = "access" | "refresh";

export interface LegacyToken {
  userId: string;
  jti: string;
  exp: number;
  /** When it was issued: its `iat`, or its `exp` less the old service's lifetime for that type. */
  issuedAt: Date;
}

/** The old service's lifetimes (30 min access, 7 days refresh): they date tokens that carry no iat. */
const OLD_LIFETIME_SECONDS: Record<LegacyTokenType, number> = { access: 30 * 60, refresh: 7 * 86_400 };

const keyCache = new Map<string, Promise<CryptoKey>>();

function legacyKey(config: Config): Promise<CryptoKey> {
  const cacheKey = `${config.LEGACY_JWT_ALGORITHM}:${config.LEGACY_JWT_SECRET}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(config.LEGACY_JWT_SECRET),
      { name: "HMAC", hash: `SHA-${config.LEGACY_JWT_ALGORITHM.slice(2)}` },
      false,
      ["verify"],
    );
    keyCache.set(cacheKey, key);
  }
  return key;
}

export function legacyTokensAccepted(config: Config, now: Date): boolean {
  return (
    config.LEGACY_JWT_SECRET !== undefined &&
    config.LEGACY_TOKENS_UNTIL !== undefined &&
    now.getTime() < config.LEGACY_TOKENS_UNTIL.getTime()
  );
}

/** The token if it is a valid legacy token of `type` now; null otherwise (never throws on bad input). */
export async function verifyLegacyToken(
  config: Config,
  token: string,
  type: LegacyTokenType,
  now: Date,
): Promise<LegacyToken | null> {
  if (!legacyTokensAccepted(config, now)) return null;
  let payload: JWTPayload;
  try {
    // The algorithm is pinned: a token naming "none" or another algorithm never verifies.
    ({ payload } = await jwtVerify(token, await legacyKey(config), {
      algorithms: [config.LEGACY_JWT_ALGORITHM],
      currentDate: now,
      requiredClaims: ["sub", "exp", "jti"],
    }));
  } catch {
    return null;
  }
  const { sub, jti, exp, iat } = payload;
  if (payload.type !== type || typeof sub !== "string" || !/^\d{1,18}$/.test(sub)) return null;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 255 || typeof exp !== "number") return null;
  const issued = typeof iat === "number" ? iat : exp - OLD_LIFETIME_SECONDS[type];
  return { userId: sub, jti, exp, issuedAt: new Date(issued * 1000) };
}

/** Signed out everywhere (or password changed/reset) since the token was issued: it is dead. */
export function revokedSince(sessionsRevokedAt: Date | null, token: LegacyToken): boolean {
  return sessionsRevokedAt !== null && sessionsRevokedAt.getTime() >= token.issuedAt.getTime();
}
