import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config";
import { AppError, StorageUnavailableError } from "../../src/errors";
import {
  BindingRateLimiter,
  CounterRateLimiter,
  createRateLimiter,
  NoRateLimiter,
  type RateBucket,
  RedisRateLimiter,
  type WindowCounter,
} from "../../src/security/rate-limit";
import { database, testClient } from "../helpers";
import { fakeClock } from "../support/clock";

const ON = { RATE_LIMIT_ENABLED: "true" };
const NO_BINDINGS = {
  RL_LOGIN: undefined,
  RL_REGISTER: undefined,
  RL_VERIFY: undefined,
  RL_REFRESH: undefined,
  RL_DEFAULT: undefined,
};

/** A fresh address per test: the simulated bindings keep their state across tests. */
function randomIp(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return `10.${b[0]}.${b[1]}.${b[2]! % 250}`;
}

/** The port the Redis limiter uses, in memory; the real one is INCR + EXPIRE NX. */
class MemoryWindowCounter implements WindowCounter {
  readonly keys = new Map<string, number>();
  async incrementWithTtl(key: string): Promise<number> {
    const next = (this.keys.get(key) ?? 0) + 1;
    this.keys.set(key, next);
    return next;
  }
  async close(): Promise<void> {}
}

describe("per-IP rate limits", () => {
  it("declares every bucket as a [[ratelimits]] binding", () => {
    for (const name of ["RL_LOGIN", "RL_REGISTER", "RL_VERIFY", "RL_REFRESH", "RL_DEFAULT"] as const) {
      expect(typeof env[name]?.limit, name).toBe("function");
    }
  });

  it("answers the 11th login a minute from one IP with 429 problem+json and Retry-After", async () => {
    const client = testClient({}, ON);
    const ip = randomIp();
    // Invalid bodies: the limit counts before validation, and they cost no password hash.
    for (let i = 0; i < 10; i++) {
      const res = await client.call("POST", "/auth/login", { json: {}, headers: { "CF-Connecting-IP": ip } });
      expect(res.status).toBe(422);
    }
    const limited = await client.call("POST", "/auth/login", {
      json: {},
      headers: { "CF-Connecting-IP": ip },
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Content-Type")).toBe("application/problem+json; charset=utf-8");
    expect(limited.body.code).toBe("rate_limited");
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);

    // Another IP is not affected.
    const other = await client.call("POST", "/auth/login", {
      json: {},
      headers: { "CF-Connecting-IP": randomIp() },
    });
    expect(other.status).toBe(422);
  });

  it("keys only on CF-Connecting-IP: a spoofed X-Forwarded-For changes nothing", async () => {
    const client = testClient({}, ON);
    const ip = randomIp();
    for (let i = 0; i < 5; i++) {
      const res = await client.call("POST", "/auth/register", {
        json: {},
        headers: { "CF-Connecting-IP": ip, "X-Forwarded-For": randomIp(), "X-Real-IP": randomIp() },
      });
      expect(res.status).toBe(422);
    }
    const spoofed = await client.call("POST", "/auth/register", {
      json: {},
      headers: { "CF-Connecting-IP": ip, "X-Forwarded-For": randomIp() },
    });
    expect(spoofed.status).toBe(429);

    // Nor can X-Forwarded-For pin someone else's limit on a victim.
    const victim = randomIp();
    for (let i = 0; i < 6; i++) {
      await client.call("POST", "/auth/register", {
        json: {},
        headers: { "CF-Connecting-IP": ip, "X-Forwarded-For": victim },
      });
    }
    const fromVictim = await client.call("POST", "/auth/register", {
      json: {},
      headers: { "CF-Connecting-IP": victim },
    });
    expect(fromVictim.status).toBe(422);
  });

  it("applies the default bucket (120/min) to routes without their own, and to unknown paths", async () => {
    // A fixed clock, so the Redis limiter's one-minute window cannot roll over mid-test.
    const start = new Date();
    const client = testClient({ now: () => start }, ON);
    const ip = randomIp();
    const headers = { "CF-Connecting-IP": ip };
    for (let i = 0; i < 60; i++) expect((await client.call("GET", "/auth/me", { headers })).status).toBe(401);
    for (let i = 0; i < 60; i++) expect((await client.call("GET", "/nope", { headers })).status).toBe(404);
    const limited = await client.call("GET", "/auth/sessions", { headers });
    expect(limited.status).toBe(429);
    // Bindings say the whole period (60); the Redis limiter (pg-redis project) the time left in its window.
    const retryAfter = Number(limited.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    if (!env.REDIS_URL) expect(retryAfter).toBe(60);
    // The login bucket is separate from the default one.
    expect((await client.call("POST", "/auth/login", { json: {}, headers })).status).toBe(422);
  });

  it("falls back to the relational counters with the RATE_LIMIT_* settings when no binding exists", async () => {
    const clock = fakeClock(new Date("2026-11-25T10:00:00.000Z"));
    const client = testClient({}, { ...ON, ...NO_BINDINGS, RATE_LIMIT_REFRESH: "2" });
    const headers = { "CF-Connecting-IP": randomIp() };
    const refresh = () => client.call("POST", "/auth/refresh", { json: {}, headers });
    expect((await refresh()).status).toBe(422);
    expect((await refresh()).status).toBe(422);
    const limited = await refresh();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toBe("60");

    clock.set(new Date("2026-11-25T10:00:45.000Z"));
    expect((await refresh()).headers.get("Retry-After")).toBe("15");
    clock.set(new Date("2026-11-25T10:01:00.001Z"));
    expect((await refresh()).status).toBe(422);
  });

  it("chooses Redis for REDIS_URL, else the bindings, else the counters; none when disabled", () => {
    const db = database();
    const sources = {
      counters: () => db.counters,
      now: () => new Date(),
      redis: () => new MemoryWindowCounter(),
    };
    // REDIS_URL "" = unset, so the choice below does not depend on which project runs the file.
    const cfg = (over: Record<string, unknown>) => getConfig({ ...env, REDIS_URL: "", ...over });
    expect(createRateLimiter(cfg(ON), env, sources)).toBeInstanceOf(BindingRateLimiter);
    expect(
      createRateLimiter(cfg({ ...ON, REDIS_URL: "redis://localhost:6379" }), env, sources),
    ).toBeInstanceOf(RedisRateLimiter);
    expect(createRateLimiter(cfg(ON), { ...env, ...NO_BINDINGS }, sources)).toBeInstanceOf(
      CounterRateLimiter,
    );
    expect(createRateLimiter(cfg({}), env, sources)).toBeInstanceOf(NoRateLimiter);
  });

  it("Redis limiter: one INCR per request on rl:<bucket>:<ip>:<window>, Retry-After to the window end", async () => {
    const counter = new MemoryWindowCounter();
    let now = new Date("2026-11-25T10:00:20.000Z");
    const limits = { login: 2, register: 1, verify: 1, refresh: 1, default: 1 };
    const limiter = new RedisRateLimiter(counter, limits, () => now);
    await limiter.check("login", "1.2.3.4");
    await limiter.check("login", "1.2.3.4");
    const err = await limiter.check("login", "1.2.3.4").catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 429, headers: { "Retry-After": "40" } });
    const window = Math.floor(now.getTime() / 60_000);
    expect([...counter.keys.keys()]).toEqual([`rl:login:1.2.3.4:${window}`]);

    now = new Date("2026-11-25T10:01:00.000Z");
    await expect(limiter.check("login", "1.2.3.4")).resolves.toBeUndefined();
    await expect(limiter.check("register", "1.2.3.4")).resolves.toBeUndefined();
  });
});

describe("Redis limiter while Redis is unavailable", () => {
  const limits = { login: 5, register: 5, verify: 5, refresh: 5, default: 5 };
  const deadCounter: WindowCounter = {
    incrementWithTtl: () => Promise.reject(new StorageUnavailableError("Redis INCR: no answer (timeout)")),
    close: async () => {},
  };

  it("sign-in buckets fail closed with storage-unavailable; the fallback is never asked", async () => {
    const asked: string[] = [];
    const fallback = { check: async (bucket: RateBucket) => void asked.push(bucket) };
    const limiter = new RedisRateLimiter(deadCounter, limits, () => new Date(), fallback);
    for (const bucket of ["login", "register", "verify", "refresh"] as const) {
      await expect(limiter.check(bucket, "1.2.3.4")).rejects.toBeInstanceOf(StorageUnavailableError);
    }
    expect(asked).toEqual([]);
  });

  it("the default bucket is decided by the fallback (its 429 stands), with a warning that names no URL", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      let allow = true;
      const asked: string[] = [];
      const fallback = {
        check: async (bucket: RateBucket, key: string) => {
          asked.push(`${bucket}:${key}`);
          if (!allow) throw new AppError("rate_limited", { headers: { "Retry-After": "60" } });
        },
      };
      const limiter = new RedisRateLimiter(deadCounter, limits, () => new Date(), fallback);
      await expect(limiter.check("default", "1.2.3.4")).resolves.toBeUndefined();
      allow = false;
      await expect(limiter.check("default", "1.2.3.4")).rejects.toMatchObject({ status: 429 });
      expect(asked).toEqual(["default:1.2.3.4", "default:1.2.3.4"]);
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[0]![0])).toContain("uses the fallback limiter");
    } finally {
      warn.mockRestore();
    }
  });

  it("an error that is not an outage is not swallowed, even for the default bucket", async () => {
    const broken: WindowCounter = {
      incrementWithTtl: () => Promise.reject(new TypeError("bug")),
      close: async () => {},
    };
    const limiter = new RedisRateLimiter(broken, limits, () => new Date(), new NoRateLimiter());
    await expect(limiter.check("default", "1.2.3.4")).rejects.toBeInstanceOf(TypeError);
  });

  it("with REDIS_URL the bindings become the default bucket's fallback", () => {
    const sources = { counters: () => database().counters, now: () => new Date() };
    const cfg = getConfig({ ...env, ...ON, REDIS_URL: "redis://localhost:6379" });
    const withBindings = createRateLimiter(cfg, env, { ...sources, redis: () => deadCounter });
    expect(withBindings).toBeInstanceOf(RedisRateLimiter);
    expect((withBindings as unknown as { fallback: unknown }).fallback).toBeInstanceOf(BindingRateLimiter);
    const without = createRateLimiter(
      cfg,
      { ...env, ...NO_BINDINGS },
      { ...sources, redis: () => deadCounter },
    );
    expect((without as unknown as { fallback: unknown }).fallback).toBeInstanceOf(NoRateLimiter);
  });
});
