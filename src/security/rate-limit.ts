import type { Config } from "../config";
import type { Env } from "../env";
import { AppError, StorageUnavailableError } from "../errors";
import type { CounterRepository } from "../storage/types";

export type RateBucket = "login" | "register" | "verify" | "refresh" | "default";

export interface RateLimiter {
  /** Throws a 429 AppError (with Retry-After) when `key` exceeded the bucket's limit. */
  check(bucket: RateBucket, key: string): Promise<void>;
  /** Releases a connection, if the limiter holds one. */
  close?(): Promise<void>;
}

/** Fixed windows of one minute for every limiter we own (the bindings use period = 60 too). */
export const WINDOW_SECONDS = 60;

const BINDING: Record<RateBucket, keyof Env> = {
  login: "RL_LOGIN",
  register: "RL_REGISTER",
  verify: "RL_VERIFY",
  refresh: "RL_REFRESH",
  default: "RL_DEFAULT",
};

function limitsOf(config: Config): Record<RateBucket, number> {
  return {
    login: config.RATE_LIMIT_LOGIN,
    register: config.RATE_LIMIT_REGISTER,
    verify: config.RATE_LIMIT_VERIFY,
    refresh: config.RATE_LIMIT_REFRESH,
    default: config.RATE_LIMIT_DEFAULT,
  };
}

function limited(retryAfterSeconds: number): AppError {
  return new AppError("rate_limited", {
    headers: { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
}

/**
 * Workers Rate Limiting bindings ([[ratelimits]] in wrangler.toml; wrangler simulates them locally).
 * Their limits are fixed in wrangler.toml; they are per-colo and approximate, which is fine for abuse
 * control (the per-account throttle, which must be exact, lives in the relational store).
 */
export class BindingRateLimiter implements RateLimiter {
  constructor(private readonly env: Env) {}

  async check(bucket: RateBucket, key: string): Promise<void> {
    const binding = this.env[BINDING[bucket]] as RateLimit | undefined;
    if (!binding) return;
    const { success } = await binding.limit({ key: `${bucket}:${key}` });
    // The binding does not say when its window ends; a full period is the safe upper bound.
    if (!success) throw limited(WINDOW_SECONDS);
  }
}

/** The one operation a Redis-backed limiter needs; kept tiny so any Redis client can provide it. */
export interface WindowCounter {
  /** Atomically adds one to `key`, setting its TTL on the first hit; returns the new count. */
  incrementWithTtl(key: string, ttlSeconds: number): Promise<number>;
  /** True when Redis just timed out, so a bucket that has a fallback should not wait for it again. */
  recentlyUnavailable?(): boolean;
  close(): Promise<void>;
}

/**
 * The buckets that guard a credential (password, code, token, e-mail link). When Redis cannot count them
 * they fail closed with 503 storage_unavailable: letting them through would turn a Redis outage (or an
 * attacker who can cause one) into an unthrottled guessing window, and the per-IP limit is the only
 * brake on spraying one password over many accounts. "default" guards nothing secret (health, docs,
 * OpenAPI, JWKS, authenticated reads that check their token against the database), so a Redis outage
 * must not take those routes down with it.
 */
const FAIL_CLOSED: ReadonlySet<RateBucket> = new Set(["login", "register", "verify", "refresh"]);

/** INCR + EXPIRE on a fixed one-minute window: key `rl:<bucket>:<ip>:<window>`. */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly counter: WindowCounter,
    private readonly limits: Record<RateBucket, number>,
    private readonly now: () => Date,
    /** Counts the "default" bucket while Redis is unavailable (the bindings, or nothing). */
    private readonly fallback: RateLimiter = new NoRateLimiter(),
  ) {}

  async check(bucket: RateBucket, key: string): Promise<void> {
    const nowSeconds = this.now().getTime() / 1000;
    const window = Math.floor(nowSeconds / WINDOW_SECONDS);
    const canFallBack = !FAIL_CLOSED.has(bucket);
    // Redis just timed out: waiting out another deadline would only add to the request's time (the
    // /health ping behind us has its own). Fail-closed buckets still try, so a recovery is seen at once.
    if (canFallBack && this.counter.recentlyUnavailable?.()) {
      return this.fellBack(bucket, key, "Redis timed out moments ago (timeout)");
    }
    let count: number;
    try {
      count = await this.counter.incrementWithTtl(`rl:${bucket}:${key}:${window}`, WINDOW_SECONDS);
    } catch (err) {
      if (!(err instanceof StorageUnavailableError) || !canFallBack) throw err;
      // The message is the connection layer's secret-free cause (never the URL).
      return this.fellBack(bucket, key, err.message);
    }
    if (count > this.limits[bucket]) throw limited((window + 1) * WINDOW_SECONDS - nowSeconds);
  }

  private fellBack(bucket: RateBucket, key: string, error: string): Promise<void> {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: `rate limiter: Redis unavailable, "${bucket}" bucket uses the fallback limiter`,
        error,
      }),
    );
    return this.fallback.check(bucket, key);
  }

  close(): Promise<void> {
    return this.counter.close();
  }
}

/**
 * Strongly consistent fallback when neither Redis nor the bindings are available (e.g. a Node
 * deployment on Postgres): the relational fixed-window counters, with the RATE_LIMIT_* settings.
 */
export class CounterRateLimiter implements RateLimiter {
  constructor(
    private readonly counters: () => CounterRepository,
    private readonly limits: Record<RateBucket, number>,
    private readonly now: () => Date,
  ) {}

  async check(bucket: RateBucket, key: string): Promise<void> {
    const now = this.now();
    const { count, resetAt } = await this.counters().increment(
      `rl:${bucket}:${key}`,
      WINDOW_SECONDS * 1000,
      now,
    );
    if (count > this.limits[bucket]) throw limited((resetAt.getTime() - now.getTime()) / 1000);
  }
}

export class NoRateLimiter implements RateLimiter {
  async check(): Promise<void> {}
}

export interface RateLimiterSources {
  counters: () => CounterRepository;
  now: () => Date;
  /** Opens the Redis counter for REDIS_URL; injectable so the choice is testable without Redis. */
  redis?: (url: string) => WindowCounter;
}

function hasBindings(env: Env): boolean {
  return Object.values(BINDING).some((name) => env[name] !== undefined);
}

/** REDIS_URL → Redis; else the [[ratelimits]] bindings; else the relational counters. */
export function createRateLimiter(config: Config, env: Env, sources: RateLimiterSources): RateLimiter {
  if (!config.RATE_LIMIT_ENABLED) return new NoRateLimiter();
  if (config.REDIS_URL && sources.redis)
    return new RedisRateLimiter(
      sources.redis(config.REDIS_URL),
      limitsOf(config),
      sources.now,
      // Per-colo and approximate, but a limit that needs no Redis; without bindings, none.
      hasBindings(env) ? new BindingRateLimiter(env) : new NoRateLimiter(),
    );
  // The bindings' limits are fixed in wrangler.toml; in development the RATE_LIMIT_* settings rule, so a
  // manual walk-through can loosen them from .dev.vars.
  if (config.ENVIRONMENT !== "development" && hasBindings(env)) return new BindingRateLimiter(env);
  return new CounterRateLimiter(sources.counters, limitsOf(config), sources.now);
}
