import type { MiddlewareHandler } from "hono";
import { verifyAccessToken } from "../auth/tokens";
import { type AppEnv, clientIp } from "../context";
import { AppError } from "../errors";
import type { RateBucket } from "./rate-limit";

// RFC 6750 §2.1 b64token.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

/** Authenticates an access token (signature, claims, revocation) and sets c.var.auth. */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const match = BEARER.exec(c.req.header("Authorization") ?? "");
  if (!match) throw new AppError("unauthorized");
  const deps = c.var.deps;
  c.set("auth", await verifyAccessToken(deps.config, deps.ephemeral, match[1]!, deps.now()));
  await next();
};

/** Per-IP limit, applied before the body is parsed or validated. */
export function rateLimit(bucket: RateBucket): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await c.var.deps.limiter.check(bucket, clientIp(c));
    await next();
  };
}
