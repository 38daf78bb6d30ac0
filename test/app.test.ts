import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const BASE = "https://auth.example.test";
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
    });
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});
