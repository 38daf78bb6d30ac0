// Postgres/Redis only: a store that accepts connections but never answers (a hung server, a firewall, the
// wrong service on the port) must cost a request at most a deadline, never a hang; and the routes that
// need no store keep answering. The silent listener is this run's own (test/pg-redis/fault-servers.ts).
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { createApp } from "../../src/app";
import { StorageUnavailableError } from "../../src/errors";
import { openRedis } from "../../src/storage/redis";
import { createVerifiedUser, testClient } from "../helpers";

const BASE = "https://auth.example.test";
const { silentRedisUrl, silentPostgresUrl } = inject("faults");

function appWith(overrides: Record<string, string>) {
  const app = createApp();
  // The product's default connect deadline (the pg-redis project raises it for its parallel bursts).
  const bindings = { ...env, STORAGE_CONNECT_TIMEOUT_MS: "1500", ...overrides };
  return async (path: string, init: RequestInit = {}) => {
    const started = Date.now();
    const res = await app.request(`${BASE}${path}`, init, bindings);
    return { res, ms: Date.now() - started };
  };
}

const login = {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ email: "nobody@example.com", password: "correct horse battery" }),
};

describe("Redis that accepts connections and never answers", () => {
  it("a store call fails as storage-unavailable within the deadline", async () => {
    const store = openRedis(silentRedisUrl);
    const started = Date.now();
    try {
      await expect(store.getMany(["k"])).rejects.toBeInstanceOf(StorageUnavailableError);
      // The isolate remembers the timeout: the health probe says "down" without a second deadline.
      const pinged = Date.now();
      await expect(store.ping()).rejects.toThrow(/timeout/);
      expect(Date.now() - pinged).toBeLessThan(500);
    } finally {
      await store.close();
    }
    // One deadline (plus the first load of the driver on a busy machine), then an answer at once.
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("/health is 503 within 2 s and names the store that is down", async () => {
    const request = appWith({ REDIS_URL: silentRedisUrl });
    const { res, ms } = await request("/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: "degraded",
      storage: { database: { status: "ok" }, ephemeral: { kind: "redis", status: "down" } },
    });
    expect(ms).toBeLessThan(2_000);
  });

  it("an authenticated route does not need Redis: the database decides, quickly; the rest keep working", async () => {
    // A real session, made while Redis answers; then Redis goes silent.
    const client = testClient();
    const user = await createVerifiedUser(client);
    const request = appWith({ REDIS_URL: silentRedisUrl });
    const me = () =>
      request("/auth/me", { headers: { Authorization: `Bearer ${user.tokens.access_token}` } });
    // Revocation is read from the session row, not from Redis: a silent Redis costs /auth/me nothing.
    const { res, ms } = await me();
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(2_000);
    // And a revoked session is refused with Redis silent just the same.
    expect((await client.call("POST", "/auth/logout", { token: user.tokens.access_token })).status).toBe(204);
    const revoked = await me();
    expect(revoked.res.status).toBe(401);
    expect(await revoked.res.json()).toMatchObject({ code: "invalid_token" });
    expect(revoked.ms).toBeLessThan(2_000);

    for (const path of ["/openapi.json", "/.well-known/jwks.json", "/docs"]) {
      const r = await request(path);
      expect(r.res.status, path).toBe(200);
      expect(r.ms, path).toBeLessThan(2_000);
    }
  });
});

describe("Postgres that accepts connections and never answers", () => {
  it("/health and a database route answer 503 within the connect deadline", async () => {
    const request = appWith({ DATABASE_URL: silentPostgresUrl });
    const health = await request("/health");
    expect(health.res.status).toBe(503);
    expect(health.ms).toBeLessThan(3_000); // the promise is 2 s (1.5 s connect deadline); slack for CI
    expect(await health.res.json()).toMatchObject({
      storage: { database: { kind: "postgres", status: "down" }, ephemeral: { status: "ok" } },
    });
    const { res, ms } = await request("/auth/login", login);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "storage_unavailable" });
    expect(ms).toBeLessThan(3_000); // the 1.5 s connect deadline, plus a busy machine's slack
    expect((await request("/openapi.json")).res.status).toBe(200);
  });
});

describe("STORAGE_CONNECT_TIMEOUT_MS", () => {
  it("sets the connect deadline: a silent Postgres and a silent Redis answer 503 after it, not after the default", async () => {
    const request = appWith({
      DATABASE_URL: silentPostgresUrl,
      REDIS_URL: silentRedisUrl,
      STORAGE_CONNECT_TIMEOUT_MS: "200",
    });
    const { res, ms } = await request("/auth/login", login);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "storage_unavailable" });
    // At least the deadline, and well under the 1.5 s default even on a loaded machine.
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1_400);
  });
});
