import type { Config } from "../config";
import type { Env } from "../env";
import { openD1 } from "./d1";
import { loadDriver } from "./drivers";
import { openKv } from "./kv";
import { lazyDatabase } from "./lazy";
import { openRedis } from "./redis";
import type { Database, DatabaseOptions, EphemeralStore } from "./types";

/**
 * D1 unless DATABASE_URL or a HYPERDRIVE binding selects Postgres. An explicit DATABASE_URL wins, so a
 * `.dev.vars` can point `wrangler dev` at a local server while wrangler.toml keeps the Hyperdrive binding.
 * The Postgres driver is imported on the first query, through the driver registry (./drivers.ts): a
 * D1/KV build does not even contain it.
 */
export function openDatabase(config: Config, env: Env, options: DatabaseOptions = {}): Database {
  const url = config.DATABASE_URL ?? env.HYPERDRIVE?.connectionString;
  // The one place that decides whether audit writes also fill the webhook outbox: only with a webhook.
  const outbox = config.WEBHOOK_URL ? (options.outbox ?? {}) : undefined;
  if (!url) {
    if (!config.D1_READ_REPLICAS) return openD1(env.DB, outbox);
    // One D1 session per request and kind: its statements are sequentially consistent (each sees what
    // the previous one saw or wrote), and a write always goes to the primary whatever the constraint.
    const session = env.DB.withSession(options.replicaReads ? "first-unconstrained" : "first-primary");
    return openD1(session, outbox);
  }
  const pgOptions = { connectTimeoutMs: config.STORAGE_CONNECT_TIMEOUT_MS, ...options, outbox };
  return lazyDatabase("postgres", async () => (await loadDriver("postgres")).openPostgres(url, pgOptions));
}

/** KV unless REDIS_URL selects Redis (whose client module openRedis imports on first use). */
export function openEphemeral(config: Config, env: Env): EphemeralStore {
  return config.REDIS_URL
    ? openRedis(config.REDIS_URL, { connectTimeoutMs: config.STORAGE_CONNECT_TIMEOUT_MS })
    : openKv(env.KV);
}
