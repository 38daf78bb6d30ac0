import { StorageUnavailableError } from "../../errors";
import type { EphemeralStore } from "../types";
import { type RedisOptions, redisConnection } from "./connection";

export type { RedisOptions } from "./connection";

/**
 * Redis behind the EphemeralStore contract, over TCP (node:net under nodejs_compat). One connection per
 * call (per request), opened on first use and closed by close(). Errors throw StorageUnavailableError so
 * callers fail closed: a revocation check that cannot run must reject the token.
 */
export function openRedis(url: string, options: RedisOptions = {}): EphemeralStore {
  const { run, recentlyTimedOut, close } = redisConnection(url, options);
  return {
    kind: "redis",
    async getMany(keys) {
      if (keys.length === 0) return [];
      return run("MGET", (c) => c.mGet(keys));
    },
    async set(key, value, ttlSeconds) {
      // Native TTL (SET .. EX) with Redis's own minimum of one second.
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      await run("SET", (c) => c.set(key, value, { expiration: { type: "EX", value: ttl } }));
    },
    async ping() {
      // /health reports "down" at once instead of waiting out a second deadline in the same request.
      if (recentlyTimedOut())
        throw new StorageUnavailableError("Redis PING: skipped, it timed out moments ago (timeout)");
      await run("PING", (c) => c.ping());
    },
    close,
  };
}
