import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { authenticate } from "../auth/tokens";
import { type AppEnv, clientIp } from "../context";
import { AppError } from "../errors";
import { jsonGuardMiddleware } from "./json-guard";
import { NoRateLimiter, type RateBucket } from "./rate-limit";

// RFC 6750 §2.1 b64token.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * Authenticates an access token (signature, claims, live session, active account) and sets c.var.auth and
 * c.var.currentUser. The role is read from the database here on every request, never from a token claim,
 * so a demoted admin loses access with the very next call.
 */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const match = BEARER.exec(c.req.header("Authorization") ?? "");
  if (!match) throw new AppError("unauthorized");
  const deps = c.var.deps;
  const db = deps.db;
  // On a replica, a refusal is checked again on the primary (a sign-in the replica has not seen yet);
  // the primary's D1 session is only opened then.
  const primary = deps.readsFromReplica ? () => deps.primary.users : undefined;
  const handle = async (): Promise<void> => {
    const { auth, user } = await authenticate(
      deps.config,
      db.users,
      match[1]!,
      deps.now(),
      (jti) => db.tokens.legacySpent(jti),
      primary,
    );
    c.set("auth", auth);
    c.set("currentUser", user);
    await next();
  };
  // An authenticated GET, its handler included, counts as a read in flight: the next lane of a password
  // hash waits for it (load shedding, hash-gate.ts). Other methods may hash themselves, so not them.
  await (c.req.method === "GET" || c.req.method === "HEAD" ? deps.hashGate.read(handle) : handle());
};

/**
 * Marks a read-only route as tolerating a D1 read replica (D1_READ_REPLICAS=true): its reads, the
 * authentication's included, may be answered by a nearby replica, up to its replication lag behind the
 * primary. Put it before requireAuth. Every other route, and any request that is not a GET or HEAD even on
 * such a path, reads and writes on the primary, so nothing that changes state is decided on stale data.
 */
export const replicaReads: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === "GET" || c.req.method === "HEAD") c.var.deps.readFromReplica();
  await next();
};

/** Until when the caller's session counts as recently authenticated (its last proof + the window). */
export function recentUntil(c: Context<AppEnv>): Date | null {
  const proof = c.var.auth.authenticatedAt;
  if (!proof) return null;
  return new Date(proof.getTime() + c.var.deps.config.REAUTH_WINDOW_SECONDS * 1000);
}

/**
 * For routes marked [recent] (API.md), after requireAuth: a stolen access token alone must not enrol an
 * authenticator or change how the account signs in, so the session must have proved a credential within
 * REAUTH_WINDOW_SECONDS (a sign-in or POST /auth/reauthenticate; a refresh does not count). The proof
 * time comes from the session row authenticate just read, not from the token.
 */
export const requireRecentAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const until = recentUntil(c);
  if (!until || until.getTime() <= c.var.deps.now().getTime())
    throw new AppError("reauthentication_required");
  await next();
};

const BUCKET = Symbol("rateBucket");
type TaggedMiddleware = MiddlewareHandler<AppEnv> & { [BUCKET]?: RateBucket };

// Requests whose limit the global middleware already counted (so a route's own rateLimit() is a no-op).
const counted = new WeakSet<Request>();

/** The bucket a route asked for with rateLimit(bucket); "default" for every other route (and 404s). */
function bucketOf(c: Context<AppEnv>): RateBucket {
  for (const route of matchedRoutes(c)) {
    const bucket = (route.handler as TaggedMiddleware)[BUCKET];
    if (bucket) return bucket;
  }
  return "default";
}

/**
 * Global per-IP limit: every request counts against its route's bucket, before the body is read. Routes
 * written later are covered by "default" without having to remember it.
 */
export const globalRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limiter = c.var.deps.limiter;
  // RATE_LIMIT_ENABLED=false: nothing to count, so no bucket lookup or address parsing per request (a
  // route's own rateLimit() then calls the same no-op limiter).
  if (!(limiter instanceof NoRateLimiter)) {
    await limiter.check(bucketOf(c), clientIp(c));
    counted.add(c.req.raw);
  }
  await next();
};

/**
 * The per-request checks behind the stores, in their order: the per-IP limit before any body is read,
 * then the body guard. One handler for both, because each handler in the stack is an async hop.
 */
export const requestChecks: MiddlewareHandler<AppEnv> = (c, next) =>
  globalRateLimit(c, async () => {
    await jsonGuardMiddleware(c, next);
  });

/**
 * Marks a route's bucket (read by globalRateLimit). When the route is mounted outside createApp (no
 * global limiter ran) it enforces the limit itself, so a route is never left unlimited.
 */
// "default" is not accepted: every route without a marker already counts against it.
export function rateLimit(bucket: Exclude<RateBucket, "default">): MiddlewareHandler<AppEnv> {
  const middleware: TaggedMiddleware = async (c, next) => {
    if (!counted.has(c.req.raw)) await c.var.deps.limiter.check(bucket, clientIp(c));
    await next();
  };
  middleware[BUCKET] = bucket;
  return middleware;
}
