import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type Config, ConfigError, getConfig } from "./config";
import type { AppEnv } from "./context";
import { type AppOptions, RequestDeps } from "./deps";
import { AppError } from "./errors";
import { requestBodyType } from "./http/content-type";
import { corsMiddleware } from "./security/cors";

export const MAX_BODY_BYTES = 64 * 1024;

// Every middleware here runs on every request, so each does its fixed work once per isolate (header
// lists, regexes, the body limiter) and the stack is a few handlers rather than one per concern: each
// handler is an async hop of Hono's compose, which costs as much as the work of most of them.

const REQUEST_ID_HEADER = "X-Request-Id";
const REQUEST_ID_MAX = 128;
const NOT_REQUEST_ID = /[^\w\-=]/;

/**
 * Set on every response, overwriting a route's own: what OWASP's REST Security cheat sheet asks of an API
 * response (HSTS, nosniff, no framing) plus API.md's Referrer-Policy and CORP (no cross-origin no-cors
 * reads of an answer).
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
];

/**
 * Headers that only mean something for a document a browser renders (an opener, an agent cluster, link
 * prefetching, the legacy XSS auditor, IE's download prompt, Flash/PDF policy files): on everything but
 * JSON. A JSON answer is never rendered as a page (nosniff, CSP default-src 'none'), and each line
 * costs every API response its bytes at every hop (bench/README.md, "Per-request cost").
 */
export const DOCUMENT_HEADERS: readonly (readonly [string, string])[] = [
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];
/** application/json, application/problem+json, application/jwk-set+json, ... */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\b/i;
export const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Request id, security headers and response defaults in one handler. The id is the caller's
 * X-Request-Id when it is short and plain, else a fresh UUID; it is set before the handler runs (so
 * problem responses carry it) and again on the final response. After the handler: the security headers,
 * and a CSP and Cache-Control only where the route set none (HTML routes choose their own).
 */
export const responseHeadersMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  let id = c.req.header(REQUEST_ID_HEADER);
  if (!id || id.length > REQUEST_ID_MAX || NOT_REQUEST_ID.test(id)) id = crypto.randomUUID();
  c.set("requestId", id);
  c.header(REQUEST_ID_HEADER, id);
  await next();
  const h = c.res.headers;
  for (const [name, value] of SECURITY_HEADERS) h.set(name, value);
  const type = h.get("Content-Type");
  if (type === null || !JSON_TYPE.test(type))
    for (const [name, value] of DOCUMENT_HEADERS) h.set(name, value);
  h.delete("X-Powered-By");
  h.set(REQUEST_ID_HEADER, id);
  if (!h.has("Content-Security-Policy")) h.set("Content-Security-Policy", DEFAULT_CSP);
  if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
  if (type === "application/json") h.set("Content-Type", "application/json; charset=utf-8");
};

const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new AppError("payload_too_large");
  },
});

/** Routes that also take an HTML form post (the verify/reset/forgot pages and OAuth2-style form login). */
const FORM_PATHS = new Set(["/auth/login", "/auth/verify", "/auth/password/reset", "/auth/password/forgot"]);

/** A body must be JSON (or a form where a route takes one): anything else is 415, never guessed at. */
function assertBodyType(c: Parameters<MiddlewareHandler<AppEnv>>[0]): void {
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
}

/**
 * NUL in a path or query parameter: SQLite stores it, Postgres refuses it with an error. Either way it is
 * never legitimate in an id, email prefix or token, so it is a 400 here rather than a surprise in a store.
 * ("%00" has no letters, so a plain search is the case-insensitive one.)
 */
function assertNoNul(url: string): void {
  if (url.includes("%00") || url.includes("\0")) {
    throw new AppError("bad_request", { detail: "The URL contains a NUL character." });
  }
}

/**
 * The request checks, in their order: body size (413), body media type (415), NUL in the URL (400). A
 * request without a body skips the size check, as hono/body-limit itself does.
 */
const guardRequest: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.raw.body) {
    return limitBody(c, async () => {
      assertBodyType(c);
      assertNoNul(c.req.url);
      await next();
    });
  }
  assertBodyType(c);
  assertNoNul(c.req.url);
  await next();
};

/** CORS (which answers a preflight itself), then the request checks above. */
export const requestGuardMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (getConfig(c.env).CORS_ORIGINS.length === 0) return guardRequest(c, next);
  return corsMiddleware(c, async () => {
    await guardRequest(c, next);
  });
};

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;
// Origins (scheme://host:port) already found local: parsing the URL once per origin, not per request.
// Bounded, so a flood of Host headers cannot grow it.
const localOrigins = new Set<string>();

/**
 * Development settings (the built-in secret, links printed to the log) must never answer the internet:
 * wrangler.toml's top level is the development configuration, so a plain `wrangler deploy` would otherwise
 * serve forgeable tokens. Development answers only requests addressed to this machine.
 */
function assertDevelopmentIsLocal(config: Config, url: string): void {
  if (config.ENVIRONMENT !== "development") return;
  // The URL is absolute ("http://host:port/..."): its origin ends at the first "/" after the scheme.
  const end = url.indexOf("/", url.indexOf("//") + 2);
  const origin = end === -1 ? url : url.slice(0, end);
  if (localOrigins.has(origin)) return;
  const host = new URL(url).hostname;
  if (!LOOPBACK.test(host) && !host.endsWith(".localhost")) {
    throw new ConfigError([
      `ENVIRONMENT: development answers only localhost, not ${host}; deploy with npm run deploy (--env production)`,
    ]);
  }
  if (localOrigins.size < 64) localOrigins.add(origin);
}

/**
 * Builds the request's deps (stores open lazily), runs `inner` (the checks that need them) and the
 * route, then closes what the request opened, after the response when the runtime allows.
 */
export function depsMiddleware(
  options: AppOptions,
  inner?: MiddlewareHandler<AppEnv>,
): MiddlewareHandler<AppEnv> {
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
      await (inner ? inner(c, next) : next());
    } finally {
      if (deps.opened || deps.pending.length > 0) {
        if (waitUntil) waitUntil(deps.close());
        else await deps.close();
      }
    }
  };
}
