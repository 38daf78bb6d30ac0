import type { Config } from "../config";
import type { Env } from "../env";
import { AppError } from "../errors";

export type RateBucket = "login" | "register" | "verify" | "refresh" | "default";

export interface RateLimiter {
  /** Throws a 429 AppError (with Retry-After) when `key` exceeded the bucket's limit. */
  check(bucket: RateBucket, key: string): Promise<void>;
}

const BINDING: Record<RateBucket, keyof Env> = {
  login: "RL_LOGIN",
  register: "RL_REGISTER",
  verify: "RL_VERIFY",
  refresh: "RL_REFRESH",
  default: "RL_DEFAULT",
};

/** Workers Rate Limiting bindings ([[ratelimits]] in wrangler.toml; wrangler simulates them locally). */
export class BindingRateLimiter implements RateLimiter {
  constructor(private readonly env: Env) {}

  async check(bucket: RateBucket, key: string): Promise<void> {
    const binding = this.env[BINDING[bucket]] as RateLimit | undefined;
    if (!binding) return;
    const { success } = await binding.limit({ key: `${bucket}:${key}` });
    if (!success) throw new AppError("rate_limited", { headers: { "Retry-After": "60" } });
  }
}

export class NoRateLimiter implements RateLimiter {
  async check(): Promise<void> {}
}

export function createRateLimiter(config: Config, env: Env): RateLimiter {
  if (!config.RATE_LIMIT_ENABLED) return new NoRateLimiter();
  return new BindingRateLimiter(env);
}
