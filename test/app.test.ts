import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { parseConfig } from "../src/config";
import { BASE, testClient } from "./helpers";

const fetchApp = (path: string, init?: RequestInit) =>
  exports.default.fetch(new Request(`${BASE}${path}`, init));

describe("app shell", () => {
  it("reports both stores healthy", async () => {
    const res = await fetchApp("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ok",
      storage: {
        // This file runs in both vitest projects: D1+KV, and Postgres+Redis (DATABASE_URL/REDIS_URL).
        database: { kind: env.DATABASE_URL ? "postgres" : "d1", status: "ok" },
        ephemeral: { kind: env.REDIS_URL ? "redis" : "kv", status: "ok" },
      },
      schema: { expected: env.TEST_MIGRATIONS.length, found: env.TEST_MIGRATIONS.length },
    });
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 503 when a store is down", async () => {
    const brokenKv = {
      get: () => Promise.reject(new Error("KV down")),
    } as unknown as KVNamespace;
    const res = await testClient({}, { KV: brokenKv, REDIS_URL: "" }).call("GET", "/health");
    expect(res.status).toBe(503);
    expect(res.body.status).toBe("degraded");
    expect(res.body.storage.ephemeral.status).toBe("down");
  });

  it("serves an OpenAPI 3.1 document with the bearer scheme and every API.md path", async () => {
    const res = await testClient().call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    for (const path of [
      "/health",
      "/auth/register",
      "/auth/verify",
      "/auth/verify/resend",
      "/auth/login",
      "/auth/refresh",
      "/auth/logout",
      "/auth/logout/all",
      "/auth/me",
      "/auth/sessions",
      "/auth/sessions/{id}",
      "/auth/password/forgot",
      "/auth/password/reset",
      "/auth/password/change",
      "/.well-known/jwks.json",
    ]) {
      expect(res.body.paths, path).toHaveProperty([path]);
    }
    expect(res.body.paths["/auth/me"].get.security).toEqual([{ bearerAuth: [] }]);
  });

  it("serves interactive docs without a CDN", async () => {
    const res = await testClient().call("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.text).toContain("/vendor/swagger-ui/swagger-ui-bundle.js");
    expect(res.text).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/);
    expect(res.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    const init = await testClient().call("GET", "/docs/init.js");
    expect(init.text).toContain('url: "/openapi.json"');
    expect(init.text).toContain("persistAuthorization");
  });

  it("answers unknown routes with a 404 problem", async () => {
    const res = await testClient().call("GET", "/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json; charset=utf-8");
    expect(res.body).toMatchObject({
      status: 404,
      code: "not_found",
      title: "Not Found",
      detail: expect.any(String),
    });
  });

  it("answers malformed JSON with 400 and oversize bodies with 413", async () => {
    const client = testClient();
    const bad = await client.call("POST", "/auth/refresh", {
      body: "{",
      headers: { "Content-Type": "application/json" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("malformed_json");
    const big = await client.call("POST", "/auth/refresh", {
      body: JSON.stringify({ refresh_token: "x".repeat(70_000) }),
      headers: { "Content-Type": "application/json" },
    });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe("payload_too_large");
  });

  it("refuses NUL in the path or query with 400 before any store sees it", async () => {
    const client = testClient();
    for (const path of ["/auth/sessions/%00", "/users?q=a%00b", "/auth/verify?token=%00"]) {
      const res = await client.call(path.startsWith("/auth/sessions") ? "DELETE" : "GET", path);
      expect(res.status, path).toBe(400);
      expect(res.body.code, path).toBe("bad_request");
    }
  });

  it("echoes a valid X-Request-Id and replaces an invalid one", async () => {
    const client = testClient();
    const ok = await client.call("GET", "/health", { headers: { "X-Request-Id": "abc-123" } });
    expect(ok.headers.get("X-Request-Id")).toBe("abc-123");
    const bad = await client.call("GET", "/nope", { headers: { "X-Request-Id": "<script>" } });
    expect(bad.headers.get("X-Request-Id")).not.toBe("<script>");
    expect(bad.body.request_id).toBe(bad.headers.get("X-Request-Id"));
  });

  it("fails every request with a 500 naming nothing secret when config is invalid, and logs the setting", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const app = createApp();
      const res = await app.request(
        `${BASE}/health`,
        {},
        { ...env, ENVIRONMENT: "production", SECRET_KEY: "short" },
      );
      expect(res.status).toBe(500);
      const body = await res.json<{ code: string; detail: string }>();
      expect(body.code).toBe("misconfigured");
      expect(body.detail).not.toContain("short");
      expect(spy.mock.calls.flat().join(" ")).toContain("SECRET_KEY");
    } finally {
      spy.mockRestore();
    }
  });

  it("logs unknown errors with the request id and answers a generic 500", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const app = createApp();
      app.get("/boom", () => {
        throw new Error("database password is hunter2");
      });
      const res = await app.request(`${BASE}/boom`, { headers: { "X-Request-Id": "req-42" } }, env);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain("hunter2");
      expect(JSON.parse(text)).toMatchObject({ code: "internal_error", request_id: "req-42" });
      expect(spy.mock.calls.flat().join(" ")).toContain("req-42");
    } finally {
      spy.mockRestore();
    }
  });
});

describe("config", () => {
  it("parses defaults and names each bad setting", () => {
    const cfg = parseConfig({ ENVIRONMENT: "development" });
    expect(cfg.ACCESS_TOKEN_EXPIRE_MINUTES).toBe(30);
    expect(cfg.usingDevelopmentSecret).toBe(true);
    expect(() => parseConfig({ ENVIRONMENT: "production" })).toThrow(/SECRET_KEY/);
    expect(() => parseConfig({ ENVIRONMENT: "production", SECRET_KEY: "x".repeat(31) })).toThrow(
      /SECRET_KEY/,
    );
    const prod = {
      ENVIRONMENT: "production",
      APP_URL: "https://auth.example.com",
      EMAIL_TRANSPORT: "cloudflare",
    };
    expect(() => parseConfig({ ...prod, SECRET_KEY: "x".repeat(32) })).not.toThrow();
    expect(() => parseConfig({ ...prod, SECRET_KEY: "x".repeat(32), EMAIL_TRANSPORT: "console" })).toThrow(
      /EMAIL_TRANSPORT/,
    );
    expect(() =>
      parseConfig({ ...prod, SECRET_KEY: "x".repeat(32), APP_URL: "http://auth.example.com" }),
    ).toThrow(/APP_URL/);
    expect(() => parseConfig({ ACCESS_TOKEN_EXPIRE_MINUTES: "soon", ENVIRONMENT: "test" })).toThrow(
      /ACCESS_TOKEN_EXPIRE_MINUTES/,
    );
    expect(() => parseConfig({ ALGORITHM: "ES256", ENVIRONMENT: "test" })).toThrow(/JWT_PRIVATE_KEY/);
    expect(() => parseConfig({ APP_URL: "not a url", ENVIRONMENT: "test" })).toThrow(/APP_URL/);
  });
});
