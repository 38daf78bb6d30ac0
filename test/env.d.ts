import type { D1Migration } from "cloudflare:test";
import type { Env as AppBindings } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends AppBindings {
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      mainModule: typeof import("../src/index");
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
