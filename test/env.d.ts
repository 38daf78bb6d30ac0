import type { D1Migration } from "cloudflare:test";

// Cloudflare.Env (what `env` from "cloudflare:workers" is) and Cloudflare.GlobalProps are generated in
// src/worker-configuration.d.ts by `npm run types`; the tests add only their own bindings here.
declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** The tests' env is the app's env: any setting a project binds (DATABASE_URL, REDIS_URL, ...). */
      [binding: string]: unknown;
    }
  }
}
declare module "vitest" {
  interface ProvidedContext {
    /** Set in the pg-redis project only. */
    pgRedis: { databaseUrl: string; redisUrl: string; clonePrefix: string };
    /** Set in the pg-redis project only, by test/pg-redis/fault-servers.ts. */
    faults: {
      silentRedisUrl: string;
      silentPostgresUrl: string;
      ownRedisUrl: string;
      killableRedisUrl: string;
      controlUrl: string;
    };
  }
}
