// The storage contracts against the default backends (D1 + KV). D1-only (*.d1.test.ts): the pg-redis
// project runs the same suites against Postgres and Redis in test/pg-redis/contracts.test.ts.
import { env } from "cloudflare:workers";
import { openD1 } from "../../src/storage/d1";
import { openKv } from "../../src/storage/kv";
import { storageContracts } from "./contracts";

storageContracts({ open: () => openD1(env.DB) }, { open: () => openKv(env.KV) });
