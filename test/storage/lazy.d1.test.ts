// lazyDatabase (src/storage/lazy.ts): the Postgres driver loads on the first call, once, and never for
// an isolate or request that makes no call. A fake loader stands in for `import("./postgres")`.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openD1 } from "../../src/storage/d1";
import { lazyDatabase } from "../../src/storage/lazy";
import type { Database } from "../../src/storage/types";

function fakeLoader() {
  const calls: string[] = [];
  let loads = 0;
  let closes = 0;
  const users = {
    prefix: "user:",
    async findById(this: { prefix: string }, id: string) {
      calls.push(`findById ${id}`);
      // `this` must be the real repository: class-based repositories read their own fields.
      return { id: `${this.prefix}${id}` };
    },
  };
  const db = {
    kind: "postgres",
    users,
    sessions: {},
    tokens: {},
    audit: {},
    oauthAccounts: {},
    twoFactor: {},
    counters: {},
    async ping() {
      calls.push("ping");
    },
    async close() {
      closes++;
    },
  } as unknown as Database;
  const load = async (): Promise<Database> => {
    loads++;
    return db;
  };
  return { load, calls, loads: () => loads, closes: () => closes };
}

describe("lazyDatabase", () => {
  it("has every repository a real database has", () => {
    const real = openD1(env.DB);
    const lazy = lazyDatabase("postgres", () => Promise.resolve(real));
    expect(Object.keys(lazy).sort()).toEqual(Object.keys(real).sort());
  });

  it("loads nothing to open or close an unused database", async () => {
    const fake = fakeLoader();
    const db = lazyDatabase("postgres", fake.load);
    expect(db.kind).toBe("postgres");
    await db.close();
    expect([fake.loads(), fake.closes()]).toEqual([0, 0]);
  });

  it("loads once on the first call, even when calls race, and forwards arguments and this", async () => {
    const fake = fakeLoader();
    const db = lazyDatabase("postgres", fake.load);
    const [a, b] = await Promise.all([db.users.findById("a"), db.users.findById("b")]);
    await db.ping();
    expect([a, b]).toEqual([{ id: "user:a" }, { id: "user:b" }]);
    expect(fake.calls).toEqual(["findById a", "findById b", "ping"]);
    expect(fake.loads()).toBe(1);
    await db.close();
    expect(fake.closes()).toBe(1);
  });

  it("is not a thenable and rejects an unknown method instead of hanging", async () => {
    const fake = fakeLoader();
    const db = lazyDatabase("postgres", fake.load);
    expect((db.users as unknown as { then?: unknown }).then).toBeUndefined();
    const repo = db.users as unknown as Record<string, () => Promise<unknown>>;
    await expect(repo.noSuchMethod!()).rejects.toThrow(TypeError);
  });

  it("passes a loader failure to the caller", async () => {
    const db = lazyDatabase("postgres", () => Promise.reject(new Error("driver missing")));
    await expect(db.users.findById("x")).rejects.toThrow("driver missing");
    await expect(db.close()).rejects.toThrow("driver missing");
  });
});
