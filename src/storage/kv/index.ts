import { StorageUnavailableError } from "../../errors";
import type { EphemeralStore } from "../types";

// KV refuses expirationTtl below 60 seconds.
const KV_MIN_TTL = 60;

export function openKv(kv: KVNamespace): EphemeralStore {
  return {
    kind: "kv",
    async getMany(keys) {
      if (keys.length === 0) return [];
      // Bulk get: one KV operation for up to 100 keys.
      const map = await kv.get(keys);
      return keys.map((k) => map.get(k) ?? null);
    },
    async set(key, value, ttlSeconds) {
      await kv.put(key, value, { expirationTtl: Math.max(KV_MIN_TTL, Math.ceil(ttlSeconds)) });
    },
    async ping() {
      try {
        await kv.get("health:ping");
      } catch (err) {
        throw new StorageUnavailableError("KV is unreachable", { cause: err });
      }
    },
    async close() {},
  };
}
