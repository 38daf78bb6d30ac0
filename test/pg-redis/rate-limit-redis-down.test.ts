// Postgres/Redis only, rate limits ON: the Redis limiter has the ephemeral store's deadlines, and a Redis
// that is down or silent does not take down the routes that guard no credential (health, docs, OpenAPI,
// JWKS fall back to the Workers Rate Limiting bindings), while the sign-in buckets fail closed with 503.
// The silent listener is this run's own (test/pg-redis/fault-servers.ts); port 1 refuses connections.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { auditActions, createVerifiedUser, PASSWORD, testClient } from "../helpers";

const BASE = "https://auth.example.test";
const { silentRedisUrl } = inject("faults");
const REFUSED_REDIS_URL = "redis://127.0.0.1:1/0";

/** A fresh address per test: the simulated bindings keep their counts across tests. */
function randomIp(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return `10.${b[0]}.${b[1]}.${b[2]! % 250}`;
}

function appWith(redisUrl: string) {
  const app = createApp();
  // The product's default connect deadline (the pg-redis project raises it for its parallel bursts).
  const bindings = {
    ...env,
    REDIS_URL: redisUrl,
    RATE_LIMIT_ENABLED: "true",
    STORAGE_CONNECT_TIMEOUT_MS: "1500",
  };
  const ip = randomIp();
  const request = async (path: string, init: { json?: unknown } = {}) => {
    const headers = new Headers({ "CF-Connecting-IP": ip });
    if (init.json !== undefined) headers.set("Content-Type", "application/json");
    const started = Date.now();
    const res = await app.request(
      `${BASE}${path}`,
      { method: init.json === undefined ? "GET" : "POST", headers, body: JSON.stringify(init.json) },
      bindings,
    );
    return { res, ms: Date.now() - started };
  };
  /**
   * The app builds its OpenAPI document on the first request of /openapi.json and keeps it. Built here,
   * untimed and with the limiter off, so a timed request measures the store's deadline and not how long
   * a busy machine (other test files in parallel) takes to walk every schema.
   */
  const warmOpenApi = async (): Promise<Response> =>
    app.request(`${BASE}/openapi.json`, {}, { ...env, RATE_LIMIT_ENABLED: "false" });
  return Object.assign(request, { warmOpenApi });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each([
  ["silent (accepts, never answers)", silentRedisUrl],
  ["refusing connections", REFUSED_REDIS_URL],
])("rate limits on, Redis %s", (_, redisUrl) => {
  it("meta routes answer within the deadline; the limiter says it fell back, without the URL", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const request = appWith(redisUrl);
    expect((await request.warmOpenApi()).status).toBe(200);
    expect(warn).not.toHaveBeenCalled(); // the warm-up went nowhere near Redis
    for (const path of ["/openapi.json", "/.well-known/jwks.json", "/docs"]) {
      const { res, ms } = await request(path);
      expect(res.status, path).toBe(200);
      // One 1.5 s deadline, plus a busy machine's slack (the OpenAPI document is already built); without
      // the deadline these requests hung until the test timed out.
      expect(ms, path).toBeLessThan(4_000);
    }
    // /health is limited like the rest and then probes Redis itself: degraded, not rate-limited or hung.
    const health = await request("/health");
    expect(health.res.status).toBe(503);
    expect(await health.res.json()).toMatchObject({
      status: "degraded",
      storage: { database: { status: "ok" }, ephemeral: { kind: "redis", status: "down" } },
    });
    expect(health.ms).toBeLessThan(5_000); // the limiter's deadline, then the probe's

    const logged = warn.mock.calls.map((args) => String(args[0]));
    expect(logged.filter((line) => line.includes("uses the fallback limiter"))).toHaveLength(4);
    expect(logged.join("\n")).not.toContain(redisUrl);
  });

  it("sign-in fails closed: 503 storage_unavailable within the deadline, the password is never tried", async () => {
    const user = await createVerifiedUser(testClient());
    const before = await auditActions(user.id);
    const request = appWith(redisUrl);
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, ms } = await request("/auth/login", {
      json: { email: user.email, password: "wrong-guess-123" },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    expect(await res.json()).toMatchObject({ code: "storage_unavailable" });
    expect(ms).toBeLessThan(4_000); // one 1.5 s deadline, plus slack
    // The limiter refused before the handler ran: no failed sign-in was recorded.
    expect(await auditActions(user.id)).toEqual(before);
    expect(error.mock.calls.map((args) => String(args[0])).join("\n")).not.toContain(redisUrl);

    // And the right password is refused just the same: no limit, no sign-in.
    const right = await request("/auth/login", { json: { email: user.email, password: PASSWORD } });
    expect(right.res.status).toBe(503);
    expect(await auditActions(user.id)).toEqual(before);
  });
});

describe("rate limits on, Redis silent, repeated requests", () => {
  it("after the first request (which may pay one 1.5 s deadline), /health, /docs and a storage route answer within 2 s", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    const request = appWith(silentRedisUrl);
    // The first request learns that Redis is silent: it may wait out one deadline.
    const first = await request("/health");
    expect(first.res.status).toBe(503);
    for (let i = 0; i < 3; i++) {
      const health = await request("/health");
      expect(health.res.status).toBe(503);
      expect(await health.res.json()).toMatchObject({
        storage: { database: { status: "ok" }, ephemeral: { kind: "redis", status: "down" } },
      });
      expect(health.ms).toBeLessThan(2_000);
      const docs = await request("/docs");
      expect(docs.res.status).toBe(200);
      expect(docs.ms).toBeLessThan(2_000);
      // Sign-in still asks Redis (so a recovery is seen at once): one deadline, then 503.
      const login = await request("/auth/login", {
        json: { email: "nobody@example.com", password: "wrong-guess-123" },
      });
      expect(login.res.status).toBe(503);
      expect(await login.res.json()).toMatchObject({ code: "storage_unavailable" });
      expect(login.ms).toBeLessThan(2_000);
    }
  });
});
