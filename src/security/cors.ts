import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { type Config, getConfig } from "../config";
import type { AppEnv } from "../context";

const ALLOW_METHODS = ["GET", "POST", "PATCH", "DELETE", "OPTIONS"];
const ALLOW_HEADERS = ["Authorization", "Content-Type", "X-Request-Id"];

// One hono/cors handler per parsed configuration (one per isolate in practice), not one per request.
const handlers = new WeakMap<Config, MiddlewareHandler<AppEnv>>();

function corsFor(config: Config): MiddlewareHandler<AppEnv> {
  let handler = handlers.get(config);
  if (!handler) {
    const allowed = new Set(config.CORS_ORIGINS);
    handler = cors({
      origin: (o) => (allowed.has(o) ? o : null),
      allowMethods: ALLOW_METHODS,
      allowHeaders: ALLOW_HEADERS,
      exposeHeaders: ["Retry-After", "X-Request-Id"],
      credentials: false,
      maxAge: 600,
    });
    handlers.set(config, handler);
  }
  return handler;
}

/**
 * CORS is off unless CORS_ORIGINS lists exact origins. Bearer tokens (not cookies) authenticate, so
 * credentials are never allowed and `*` is never sent. A request from any other origin (including the
 * opaque `null` of sandboxed frames and file: pages) gets no CORS headers at all, preflight included, so
 * the browser blocks it.
 */
export const corsMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = getConfig(c.env);
  const allowed = config.CORS_ORIGINS;
  if (allowed.length === 0) return next();
  const origin = c.req.header("Origin");
  if (!origin || origin === "null" || !allowed.includes(origin)) {
    await next();
    // The answer depends on Origin, so a shared cache must not reuse it for another origin.
    c.header("Vary", "Origin", { append: true });
    return;
  }
  return corsFor(config)(c, next);
};
