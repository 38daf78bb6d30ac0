import {
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwksCache,
  jwtVerify,
} from "jose";
import type { Deps } from "../deps";
import { constantTimeEqual } from "../lib/crypto";

export const GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs";
const GOOGLE_ISSUERS = ["accounts.google.com", "https://accounts.google.com"];

// Google rotates its signing keys roughly weekly and publishes them well ahead of use, so an hour is safe.
const JWKS_MAX_AGE_MS = 3_600_000;
// An unknown `kid` refetches at most this often: forged kids must not turn us into a request amplifier.
const JWKS_COOLDOWN_MS = 30_000;

// One cache per isolate, shared by the per-request key sets (each request brings its own deps.fetch).
const cache: { uat?: number; jwks?: unknown } = {};

/** The ID token could not be verified (bad signature, claims, or not a JWT). */
export class IdTokenRejected extends Error {
  override name = "IdTokenRejected";
}

/** Google's keys could not be fetched: not the client's fault. */
export class ProviderUnavailable extends Error {
  override name = "ProviderUnavailable";
}

function googleKeys(deps: Deps): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(GOOGLE_JWKS_URL), {
    [customFetch]: deps.fetch,
    // jose types the cache as its own shape; ours is that shape, filled in by jose.
    [jwksCache]: cache as never,
    cacheMaxAge: JWKS_MAX_AGE_MS,
    cooldownDuration: JWKS_COOLDOWN_MS,
    timeoutDuration: 5_000,
  });
}

function isFetchFailure(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true; // network errors from fetch itself
  return (
    err.code === "ERR_JOSE_GENERIC" || err.code === "ERR_JWKS_TIMEOUT" || err.code === "ERR_JWKS_INVALID"
  );
}

/**
 * Verifies a Google ID token (OpenID Connect Core §3.1.3.7): RS256 signature against Google's published
 * keys, `iss`, `aud` = our client id, `exp`/`iat`, and `nonce` when the flow set one.
 */
export async function verifyGoogleIdToken(
  deps: Deps,
  idToken: string,
  clientId: string,
  expectedNonce: string | null,
): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, googleKeys(deps), {
      algorithms: ["RS256"],
      issuer: GOOGLE_ISSUERS,
      audience: clientId,
      currentDate: deps.now(),
      clockTolerance: 30,
      requiredClaims: ["sub", "exp", "iat"],
    }));
  } catch (err) {
    if (isFetchFailure(err)) throw new ProviderUnavailable("Google keys unavailable", { cause: err });
    throw new IdTokenRejected("ID token rejected", { cause: err });
  }
  if (
    expectedNonce !== null &&
    !(typeof payload.nonce === "string" && constantTimeEqual(payload.nonce, expectedNonce))
  ) {
    // Replay protection: the token must answer the authorization request this browser started.
    throw new IdTokenRejected("nonce mismatch");
  }
  return payload;
}
