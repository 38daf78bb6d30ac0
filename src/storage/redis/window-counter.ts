import type { WindowCounter } from "../../security/rate-limit";
import { type RedisOptions, redisConnection } from "./connection";

/**
 * A self-contained Redis connection for the rate limiter (opened on first use, closed with the request's
 * deps), so it does not depend on the ephemeral store's client. It shares the ephemeral store's
 * deadlines and failure mapping: a dead or silent Redis rejects with StorageUnavailableError within the
 * connect or command deadline, and the limiter decides per bucket what that means. `redis` is imported
 * lazily: a deployment without REDIS_URL never loads it.
 */
export function redisWindowCounter(url: string, options: RedisOptions = {}): WindowCounter {
  const { run, recentlyTimedOut, close } = redisConnection(url, options);
  return {
    async incrementWithTtl(key, ttlSeconds) {
      // One round trip; EXPIRE NX sets the TTL only on the window's first hit, so the window never slides.
      const [count] = await run("INCR", (c) => c.multi().incr(key).expire(key, ttlSeconds, "NX").exec());
      return Number(count);
    },
    recentlyUnavailable: recentlyTimedOut,
    close,
  };
}
