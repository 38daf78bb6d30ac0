import type { Config } from "../config";
import type { Env } from "../env";
import { AppError } from "../errors";
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
  close(): Promise<void>;
}

/** INCR + EXPIRE on a fixed one-minute window: key `rl:<bucket>:<ip>:<window>`. */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly counter: WindowCounter,
    private readonly limits: Record<RateBucket, number>,
    private readonly now: () => Date,
  ) {}

  async check(bucket: RateBucket, key: string): Promise<void> {
    const nowSeconds = this.now().getTime() / 1000;
    const window = Math.floor(nowSeconds / WINDOW_SECONDS);
    const count = await this.counter.incrementWithTtl(`rl:${bucket}:${key}:${window}`, WINDOW_SECONDS);
    if (count > this.limits[bucket]) throw limited((window + 1) * WINDOW_SECONDS - nowSeconds);
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

/** REDIS_URL → Redis; else the [[ratelimits]] bindings; else the relational counters. */
export function createRateLimiter(config: Config, env: Env, sources: RateLimiterSources): RateLimiter {
  if (!config.RATE_LIMIT_ENABLED) return new NoRateLimiter();
  if (config.REDIS_URL && sources.redis)
    return new RedisRateLimiter(sources.redis(config.REDIS_URL), limitsOf(config), sources.now);
  // The bindings' limits are fixed in wrangler.toml; in development the RATE_LIMIT_* settings rule, so a
  // manual walk-through can loosen them from .dev.vars.
  if (config.ENVIRONMENT !== "development" && Object.values(BINDING).some((name) => env[name] !== undefined))
    return new BindingRateLimiter(env);
  return new CounterRateLimiter(sources.counters, limitsOf(config), sources.now);
}
