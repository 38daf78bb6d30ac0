import type { WindowCounter } from "../../security/rate-limit";

async function open(url: string) {
  const { createClient } = await import("redis");
  const client = createClient({ url });
  // Without a listener a lost connection is an unhandled 'error' event; the command still rejects.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * A self-contained Redis connection for the rate limiter (opened on first use, closed with the request's
 * deps), so it does not depend on the ephemeral store's client. `redis` is imported lazily: a deployment
 * without REDIS_URL never loads it.
 */
export function redisWindowCounter(url: string): WindowCounter {
  let client: ReturnType<typeof open> | undefined;
  return {
    async incrementWithTtl(key, ttlSeconds) {
      client ??= open(url);
      const c = await client;
      // One round trip; EXPIRE NX sets the TTL only on the window's first hit, so the window never slides.
      const [count] = await c.multi().incr(key).expire(key, ttlSeconds, "NX").exec();
      return Number(count);
    },
    async close() {
      if (client) await (await client).close();
    },
  };
}
