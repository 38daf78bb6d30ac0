import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { type Config, ConfigError, getConfig } from "./config";
import type { AppEnv } from "./context";
import { type AppOptions, RequestDeps } from "./deps";
import { AppError } from "./errors";
import { requestBodyType } from "./http/content-type";

export const MAX_BODY_BYTES = 64 * 1024;

export const requestIdMiddleware = requestId({
  headerName: "X-Request-Id",
  limitLength: 128,
  generator: () => crypto.randomUUID(),
});

export const securityHeadersMiddleware = secureHeaders({
  strictTransportSecurity: "max-age=63072000; includeSubDomains",
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
  xContentTypeOptions: "nosniff",
  crossOriginResourcePolicy: "same-origin",
  crossOriginOpenerPolicy: "same-origin",
  // CSP is set below so HTML routes can choose their own.
  contentSecurityPolicy: undefined,
});

/** Defaults applied after the handler: a route may set its own CSP or Cache-Control. */
export const responseDefaults: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  const h = c.res.headers;
  if (!h.has("Content-Security-Policy"))
    h.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
  const ct = h.get("Content-Type");
  if (ct === "application/json") h.set("Content-Type", "application/json; charset=utf-8");
};

export const bodyLimitMiddleware = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new AppError("payload_too_large");
  },
});

/** Routes that also take an HTML form post (the verify/reset/forgot pages and OAuth2-style form login). */
const FORM_PATHS = new Set(["/auth/login", "/auth/verify", "/auth/password/reset", "/auth/password/forgot"]);

/** A body must be JSON (or a form where a route takes one): anything else is 415, never guessed at. */
export const contentTypeMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE") {
    const length = c.req.header("Content-Length");
    const hasBody =
      (length !== undefined && length !== "0") || c.req.header("Transfer-Encoding") !== undefined;
    if (hasBody) {
      const type = requestBodyType(c);
      if (type !== "json" && !(type === "form" && FORM_PATHS.has(c.req.path))) {
        throw new AppError("unsupported_media_type");
      }
    }
  }
  await next();
};

/**
 * NUL in a path or query parameter: SQLite stores it, Postgres refuses it with an error. Either way it is
 * never legitimate in an id, email prefix or token, so it is a 400 here rather than a surprise in a store.
 */
export const urlGuardMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  const raw = c.req.url;
  if (/%00/i.test(raw) || raw.includes("\0")) {
    throw new AppError("bad_request", { detail: "The URL contains a NUL character." });
  }
  await next();
};

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Development settings (the built-in secret, links printed to the log) must never answer the internet:
 * wrangler.toml's top level is the development configuration, so a plain `wrangler deploy` would otherwise
 * serve forgeable tokens. Development answers only requests addressed to this machine.
 */
function assertDevelopmentIsLocal(config: Config, url: string): void {
  if (config.ENVIRONMENT !== "development") return;
  const host = new URL(url).hostname;
  if (!LOOPBACK.test(host) && !host.endsWith(".localhost")) {
    throw new ConfigError([
      `ENVIRONMENT: development answers only localhost, not ${host}; deploy with npm run deploy (--env production)`,
    ]);
  }
}

export function depsMiddleware(options: AppOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const config = getConfig(c.env);
    assertDevelopmentIsLocal(config, c.req.url);
    let waitUntil: ((p: Promise<unknown>) => void) | undefined;
    try {
      const ctx = c.executionCtx;
      waitUntil = (p) => ctx.waitUntil(p);
    } catch {
      // app.request() without an ExecutionContext (unit tests): deferred work is awaited on close().
    }
    const deps = new RequestDeps(config, c.env, options, waitUntil);
    c.set("deps", deps);
    try {
      await next();
    } finally {
      if (deps.opened || deps.pending.length > 0) {
        if (waitUntil) waitUntil(deps.close());
        else await deps.close();
      }
    }
  };
}
