import { StorageUnavailableError } from "../../errors";
import type { EphemeralStore } from "../types";

// A down Redis must answer within a request's budget, not hang it: fail fast and let the caller 503.
const CONNECT_TIMEOUT_MS = 2_000;

// Loaded on first use: D1/KV deployments and every request that needs no Redis skip the driver's
// hundreds of modules.
async function newClient(url: string, connectTimeout: number) {
  const { createClient } = await import("redis");
  return createClient({
    url,
    // No reconnect loop: the client is per request, and a retry belongs to the next request. Commands
    // are refused (not queued) while disconnected, so a dead link cannot park a request.
    socket: { connectTimeout, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
}

type RedisClient = Awaited<ReturnType<typeof newClient>>;

export interface RedisOptions {
  connectTimeoutMs?: number;
}

/**
 * Redis behind the EphemeralStore contract, over TCP (node:net under nodejs_compat). One connection per
 * call (per request), opened on first use and closed by close(). Errors throw StorageUnavailableError so
 * callers fail closed: a revocation check that cannot run must reject the token.
 */
export function openRedis(url: string, options: RedisOptions = {}): EphemeralStore {
  const connectTimeout = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  let client: RedisClient | null = null;
  let connecting: Promise<RedisClient> | null = null;
  let closed = false;

  const open = async (): Promise<RedisClient> => {
    const c = await newClient(url, connectTimeout);
    // Without a listener an `error` event is an uncaught exception; failed commands still reject.
    c.on("error", () => {
      if (client === c) client = null;
    });
    try {
      await c.connect();
    } catch (err) {
      c.destroy();
      throw new StorageUnavailableError("Redis is unreachable", { cause: err });
    }
    if (closed) {
      c.destroy();
      throw new StorageUnavailableError("Redis client is closed");
    }
    client = c;
    return c;
  };

  const connection = (): Promise<RedisClient> => {
    if (closed) return Promise.reject(new StorageUnavailableError("Redis client is closed"));
    // A client killed since its last use (server restart, CLIENT KILL) is replaced, once per call.
    if (client?.isReady) return Promise.resolve(client);
    if (client) {
      client.destroy();
      client = null;
    }
    connecting ??= open().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  const run = async <T>(what: string, command: (c: RedisClient) => Promise<T>): Promise<T> => {
    const c = await connection();
    try {
      return await command(c);
    } catch (err) {
      if (client === c) {
        client = null;
        c.destroy();
      }
      throw new StorageUnavailableError(`Redis ${what} failed`, { cause: err });
    }
  };

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
      await run("PING", (c) => c.ping());
    },
    async close() {
      closed = true;
      const pending = connecting;
      const c = client ?? (pending ? await pending.catch(() => null) : null);
      client = null;
      if (!c) return;
      // QUIT politely; a link that is already gone just gets dropped.
      await c.close().catch(() => c.destroy());
    },
  };
}
