// Backend selection (src/storage/index.ts). Opening a store connects nothing, so these need no server.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import type { Env } from "../../src/env";
import { StorageUnavailableError } from "../../src/errors";
import { openDatabase, openEphemeral } from "../../src/storage";
import { ALL_DRIVERS } from "../../src/storage/all-drivers";
import { registerDrivers } from "../../src/storage/drivers";

const base = { ENVIRONMENT: "test", SECRET_KEY: "test-secret-key-that-is-at-least-32-bytes-long" };
// Nothing listens on port 1; nothing here may try to connect anyway.
const unreachable = "postgres://nobody@127.0.0.1:1/none";

function open(settings: Record<string, string>, bindings: Partial<Env> = {}) {
  const bound = { DB: env.DB, KV: env.KV, ...bindings } as Env;
  const config = parseConfig({ ...base, ...settings });
  return { db: openDatabase(config, bound), ephemeral: openEphemeral(config, bound) };
}

describe("storage selection", () => {
  it("defaults to D1 and KV", async () => {
    const { db, ephemeral } = open({});
    expect([db.kind, ephemeral.kind]).toEqual(["d1", "kv"]);
  });

  it("selects Postgres with DATABASE_URL or a HYPERDRIVE binding, Redis with REDIS_URL", async () => {
    const hyperdrive = { connectionString: unreachable } as Hyperdrive;
    const viaUrl = open({ DATABASE_URL: unreachable, REDIS_URL: "redis://127.0.0.1:1/0" });
    const viaBinding = open({}, { HYPERDRIVE: hyperdrive });
    expect([viaUrl.db.kind, viaUrl.ephemeral.kind]).toEqual(["postgres", "redis"]);
    expect([viaBinding.db.kind, viaBinding.ephemeral.kind]).toEqual(["postgres", "kv"]);
    // Lazy: opening and closing without a query opens no connection, so this cannot fail.
    await Promise.all([viaUrl.db.close(), viaUrl.ephemeral.close(), viaBinding.db.close()]);
  });

  it("loads the Postgres driver on the first query, and an unreachable server is a StorageUnavailableError", async () => {
    // As src/index.postgres.ts does (the D1 project's isolate has none registered); restored after.
    const previous = registerDrivers(ALL_DRIVERS);
    const { db } = open({ DATABASE_URL: unreachable });
    try {
      await expect(db.users.findById("00000000-0000-0000-0000-000000000000")).rejects.toBeInstanceOf(
        StorageUnavailableError,
      );
    } finally {
      await db.close();
      registerDrivers(previous);
    }
  });
});
