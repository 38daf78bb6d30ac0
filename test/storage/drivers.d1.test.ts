// The default entry (src/index.ts, D1 and KV) carries no Postgres or Redis driver (src/storage/drivers.ts):
// a deployment that sets DATABASE_URL or REDIS_URL on it gets a configuration error naming the fix, not
// a crash or a silent fallback to D1. (The pg-redis project registers the drivers through
// src/index.postgres.ts, test/pg-redis/setup.ts, and runs every HTTP suite through them.)
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type DriverModules,
  loadDriver,
  MissingDriverError,
  registerDrivers,
} from "../../src/storage/drivers";
import { PASSWORD, testClient } from "../helpers";

describe("driver registry on the D1/KV build", () => {
  // The isolate is shared between test files: whatever another file registered is set aside here.
  let previous: DriverModules | undefined;
  beforeAll(() => {
    previous = registerDrivers(undefined);
  });
  afterAll(() => {
    registerDrivers(previous);
  });

  it("has no driver to load", () => {
    expect(() => loadDriver("postgres")).toThrow(MissingDriverError);
    expect(() => loadDriver("redis")).toThrow(/REDIS_URL is configured.*src\/index\.postgres\.ts/);
  });

  it("answers 500 misconfigured, with the fix in the log, when DATABASE_URL is set", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const client = testClient({}, { DATABASE_URL: "postgres://app@127.0.0.1:5432/edge_auth" });
    const res = await client.call("POST", "/auth/login", {
      json: { email: "someone@example.com", password: PASSWORD },
    });
    expect(res.status).toBe(500);
    expect(res.body.code).toBe("misconfigured");
    // The reason is logged (the page shows it only in development); no URL or secret in the answer.
    expect(res.text).not.toContain("127.0.0.1");
    const logged = errors.mock.calls.map((args) => args.join(" ")).join("\n");
    expect(logged).toContain('main = \\"src/index.postgres.ts\\"');
  });
});
