import type { Context } from "hono";
import type { Deps } from "./deps";
import type { Env } from "./env";
import { rateLimitKey } from "./security/client-ip";
import type { User } from "./storage/types";

export interface AuthContext {
  userId: string;
  sessionId: string;
  jti: string;
  /** Access-token expiry, seconds since the epoch. */
  exp: number;
  /**
   * The session's last proof of a credential, read from the session row on this request (not from the
   * token's auth_time, so a reauthentication counts for tokens issued before it). Null: never recent.
   */
  authenticatedAt: Date | null;
}

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    deps: Deps;
    auth: AuthContext;
    /** Set by requireAuth: the caller, read from the database on each request. */
    currentUser: User;
  };
};

export type AppContext = Context<AppEnv>;

export interface RequestMeta {
  /** Only from CF-Connecting-IP: X-Forwarded-For is client-controlled. */
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

export function requestMeta(c: Context<AppEnv>): RequestMeta {
  const ip = c.req.header("CF-Connecting-IP")?.trim() || null;
  const ua = c.req.header("User-Agent") ?? null;
  return {
    ip: ip && ip.length <= 64 ? ip : null,
    userAgent: ua ? ua.slice(0, 512) : null,
    requestId: c.get("requestId"),
  };
}

/**
 * The key used for per-IP limits: IPv4 by address, IPv6 by /64 (see rateLimitKey). Requests without a
 * usable CF-Connecting-IP (local dev, tests) share one.
 */
export function clientIp(c: Context<AppEnv>): string {
  return rateLimitKey(requestMeta(c).ip);
}
