import type { Config } from "../config";
import type { Env } from "../env";
import { openD1 } from "./d1";
import { openKv } from "./kv";
import type { Database, EphemeralStore } from "./types";

/** D1 unless DATABASE_URL or a HYPERDRIVE binding selects Postgres. */
export function openDatabase(_config: Config, env: Env): Database {
  return openD1(env.DB);
}

/** KV unless REDIS_URL selects Redis. */
export function openEphemeral(_config: Config, env: Env): EphemeralStore {
  return openKv(env.KV);
}
