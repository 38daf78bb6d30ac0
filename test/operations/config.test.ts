// Both backends (pure): store URLs are validated with one clear message each, never echoing the value
// (it may hold a password), and a misconfigured Worker in development says why on the page.
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { ConfigError, parseConfig } from "../../src/config";
import { BASE } from "../helpers";

function problems(settings: Record<string, string>): string[] {
  try {
    parseConfig({ ENVIRONMENT: "test", ...settings });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe("store URL validation", () => {
  it("accepts postgres:// and postgresql://, redis:// and rediss://", () => {
    expect(problems({ DATABASE_URL: "postgres://u:p@db.example.com:5432/app" })).toEqual([]);
    expect(problems({ DATABASE_URL: "postgresql://u:p@db.example.com/app" })).toEqual([]);
    expect(problems({ REDIS_URL: "redis://127.0.0.1:6379/2" })).toEqual([]);
    expect(problems({ REDIS_URL: "rediss://:pw@cache.example.com:6380" })).toEqual([]);
  });

  it.each([
    ["REDIS_URL", "127.0.0.1:6379", /^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/],
    ["REDIS_URL", "http://hunter2@127.0.0.1:6379", /^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/],
    ["DATABASE_URL", "localhost:5432/app", /^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/],
    [
      "DATABASE_URL",
      "mysql://root:hunter2@db/app",
      /^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/,
    ],
  ])("%s=%s is one clear problem that does not repeat the value", (name, value, message) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
    expect(found[0]).not.toContain("hunter2");
  });
});

describe("STORAGE_CONNECT_TIMEOUT_MS", () => {
  it("defaults to 1.5 s and accepts 100 to 30000 ms, naming the key otherwise", () => {
    expect(parseConfig({ ENVIRONMENT: "test" }).STORAGE_CONNECT_TIMEOUT_MS).toBe(1_500);
    expect(
      parseConfig({ ENVIRONMENT: "test", STORAGE_CONNECT_TIMEOUT_MS: "8000" }).STORAGE_CONNECT_TIMEOUT_MS,
    ).toBe(8_000);
    for (const bad of ["5", "60000", "1.5s"]) {
      const found = problems({ STORAGE_CONNECT_TIMEOUT_MS: bad });
      expect(found, bad).toHaveLength(1);
      expect(found[0], bad).toMatch(/^STORAGE_CONNECT_TIMEOUT_MS: /);
    }
  });
});

describe("a misconfigured Worker", () => {
  it("in development shows the reason on the page", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const app = createApp();
    const res = await app.request(
      `${BASE}/docs`,
      {},
      { ...env, ENVIRONMENT: "development", REDIS_URL: "127.0.0.1:6379" },
    );
    expect(res.status).toBe(500);
    const body = await res.json<{ code: string; detail: string }>();
    expect(body.code).toBe("misconfigured");
    expect(body.detail).toMatch(/REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
    vi.restoreAllMocks();
  });

  it("in production keeps the reason in the log only", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const app = createApp();
    const res = await app.request(
      `${BASE}/docs`,
      {},
      { ...env, ENVIRONMENT: "production", REDIS_URL: "127.0.0.1:6379" },
    );
    expect(res.status).toBe(500);
    const body = await res.json<{ detail: string }>();
    expect(body.detail).toBe("The service is misconfigured.");
    expect(spy.mock.calls.flat().join(" ")).toMatch(/REDIS_URL: must be a redis/);
    vi.restoreAllMocks();
  });
});
