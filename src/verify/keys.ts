import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwksCache,
} from "jose";

/** A service binding (`env.AUTH`) or anything with its `fetch`. */
export interface FetcherLike {
  fetch(request: Request): Promise<Response>;
}

// The service answers its JWKS with max-age=300; a new `kid` (key rotation) refetches sooner, at most
// every 30 s, so forged kids cannot turn a verifier into a request amplifier.
const JWKS_MAX_AGE_MS = 300_000;
const JWKS_COOLDOWN_MS = 30_000;
const JWKS_TIMEOUT_MS = 5_000;

// Per isolate: one cache per JWKS URL, shared by the per-request key sets (each request may bring its own
// service binding), and one imported HMAC key per secret.
const remoteCaches = new Map<string, { uat?: number; jwks?: unknown }>();
const localSets = new WeakMap<JSONWebKeySet, JWTVerifyGetKey>();
const hmacKeys = new Map<string, Promise<CryptoKey>>();

export function remoteKeys(url: string, fetcher?: FetcherLike): JWTVerifyGetKey {
  let cache = remoteCaches.get(url);
  if (!cache) {
    cache = {};
    remoteCaches.set(url, cache);
  }
  return createRemoteJWKSet(new URL(url), {
    ...(fetcher
      ? { [customFetch]: (u: string, init: RequestInit) => fetcher.fetch(new Request(u, init)) }
      : {}),
    // jose types the cache as its own shape; ours is that shape, filled in by jose.
    [jwksCache]: cache as never,
    cacheMaxAge: JWKS_MAX_AGE_MS,
    cooldownDuration: JWKS_COOLDOWN_MS,
    timeoutDuration: JWKS_TIMEOUT_MS,
  });
}

export function localKeys(jwks: JSONWebKeySet): JWTVerifyGetKey {
  let set = localSets.get(jwks);
  if (!set) {
    set = createLocalJWKSet(jwks);
    localSets.set(jwks, set);
  }
  return set;
}

/** Imported once per isolate: handing jose raw bytes would re-import the key on every verification. */
export function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    hmacKeys.set(secret, key);
  }
  return key;
}
