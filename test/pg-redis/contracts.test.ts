// The storage contracts against Postgres and Redis (the pg-redis vitest project only).
import { env } from "cloudflare:workers";
import { openPostgres } from "../../src/storage/postgres";
import { openRedis } from "../../src/storage/redis";
import { storageContracts } from "../storage/contracts";
import { requireSetting } from "./settings";

storageContracts(
  { open: () => openPostgres(requireSetting(env, "DATABASE_URL")) },
  { open: () => openRedis(requireSetting(env, "REDIS_URL")) },
);
