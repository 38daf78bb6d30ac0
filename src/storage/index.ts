import type { Config } from "../config";
import type { Env } from "../env";
import { openD1 } from "./d1";
import { openKv } from "./kv";
import { lazyDatabase } from "./lazy";
import { openRedis } from "./redis";
import type { Database, DatabaseOptions, EphemeralStore } from "./types";

/**
 * D1 unless DATABASE_URL or a HYPERDRIVE binding selects Postgres. An explicit DATABASE_URL wins, so a
 * `.dev.vars` can point `wrangler dev` at a local server while wrangler.toml keeps the Hyperdrive binding.
 * The Postgres driver is imported on the first query (cold start: D1 isolates never evaluate `pg`).
 */
export function openDatabase(config: Config, env: Env, options: DatabaseOptions = {}): Database {
  const url = config.DATABASE_URL ?? env.HYPERDRIVE?.connectionString;
  if (!url) return openD1(env.DB);
  return lazyDatabase("postgres", async () => (await import("./postgres")).openPostgres(url, options));
}

/** KV unless REDIS_URL selects Redis (whose client module openRedis imports on first use). */
export function openEphemeral(config: Config, env: Env): EphemeralStore {
  return config.REDIS_URL ? openRedis(config.REDIS_URL) : openKv(env.KV);
}
