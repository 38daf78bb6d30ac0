// Postgres/Redis only: the service survives the servers dropping every connection, and a store it
// cannot reach turns into 503 storage_unavailable (fail closed), never a hang or a 500.
import { env } from "cloudflare:workers";
import pg from "pg";
import { createClient } from "redis";
import { describe, expect, inject, it } from "vitest";
import { createApp } from "../../src/app";
import { StorageUnavailableError } from "../../src/errors";
import { openPostgres } from "../../src/storage/postgres";
import { LazyPgClient } from "../../src/storage/postgres/connection";
import { openRedis } from "../../src/storage/redis";
import { requireSetting } from "./settings";

const DATABASE_URL = requireSetting(env, "DATABASE_URL");
const REDIS_URL = requireSetting(env, "REDIS_URL");
// Killing and counting clients happens on a redis-server this run started for this file alone
// (test/pg-redis/fault-servers.ts), never on the shared one other files and developers use.
const KILLABLE_REDIS_URL = inject("faults").killableRedisUrl;
const BASE = "https://auth.example.test";
// Nothing listens on port 1: connect() is refused at once.
const CLOSED_PORT_PG = "postgres://postgres@127.0.0.1:1/test";
const CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0";

/** Tags this file's Postgres sessions, so killing "all of ours" leaves parallel test files alone. */
function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
}

/** The app with some settings overridden, plus a route that needs both stores (as every auth route does). */
function appWith(overrides: Record<string, string>) {
  const app = createApp();
  app.get("/__test/stores", async (c) => {
    const { db, ephemeral } = c.var.deps;
    await ephemeral.getMany(["revoked:probe"]);
    await db.users.findById("probe");
    return c.json({ ok: true });
  });
  const bindings = { ...env, ...overrides };
  return (path: string) => app.request(`${BASE}${path}`, {}, bindings);
}

async function terminatePostgresSessions(applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  admin.on("error", () => {});
  await admin.connect();
  try {
    const { rows } = await admin.query(
      `select pg_terminate_backend(pid) as killed from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and application_name = $1`,
      [applicationName],
    );
    return rows.length;
  } finally {
    await admin.end().catch(() => {});
  }
}

async function killRedisClients(db: number): Promise<number> {
  const admin = createClient({ url: KILLABLE_REDIS_URL, socket: { reconnectStrategy: false } });
  admin.on("error", () => {});
  await admin.connect();
  try {
    // CLIENT KILL TYPE normal, narrowed to the clients of one logical database (this file's).
    const list = await admin.clientList();
    const victims = list.filter(
      (c) => c.db === db && c.id !== (list.find((x) => x.cmd === "client|list")?.id ?? -1),
    );
    for (const c of victims) await admin.clientKill({ filter: "ID", id: c.id });
    return victims.length;
  } finally {
    await admin.close().catch(() => admin.destroy());
  }
}

async function postgresSessions(applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  admin.on("error", () => {});
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: string }>(
      "select count(*) as n from pg_stat_activity where application_name = $1",
      [applicationName],
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await admin.end().catch(() => {});
  }
}

async function redisClients(db: number): Promise<number> {
  const admin = createClient({ url: KILLABLE_REDIS_URL, socket: { reconnectStrategy: false } });
  admin.on("error", () => {});
  await admin.connect();
  try {
    return (await admin.clientList()).filter((c) => c.db === db && c.cmd !== "client|list").length;
  } finally {
    await admin.close().catch(() => admin.destroy());
  }
}

describe("one connection per store handle (per request)", () => {
  it("Postgres: concurrent queries share one connection, opened lazily and closed by close()", async () => {
    const name = `reuse-${crypto.randomUUID().slice(0, 8)}`;
    const db = openPostgres(withApplicationName(DATABASE_URL, name));
    expect(await postgresSessions(name)).toBe(0); // nothing opened before the first query
    await Promise.all(Array.from({ length: 8 }, () => db.users.findById(crypto.randomUUID())));
    await db.ping();
    expect(await postgresSessions(name)).toBe(1);
    await db.close();
    await expect.poll(() => postgresSessions(name)).toBe(0);
  });

  it("Postgres: a statement that does not answer in time is storage-unavailable, and the handle reconnects", async () => {
    const client = new LazyPgClient(DATABASE_URL, 5_000, 200);
    try {
      // Without the timeout this would answer after 3 s and the expectation would fail.
      await expect(client.query({ text: "select pg_sleep(3)" })).rejects.toBeInstanceOf(
        StorageUnavailableError,
      );
      expect((await client.query({ text: "select 1 as one" })).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });

  it("Redis: every command of a handle goes over one connection", async () => {
    const dbIndex = 9;
    const url = new URL(KILLABLE_REDIS_URL);
    url.pathname = `/${dbIndex}`;
    const store = openRedis(url.toString());
    const key = `reuse:${crypto.randomUUID()}`;
    await Promise.all([
      store.set(key, "1", 60),
      store.getMany([key]),
      store.getMany([key, `${key}:x`]),
      store.ping(),
    ]);
    await store.set(key, "2", 1);
    expect(await redisClients(dbIndex)).toBe(1);
    await store.close();
    await expect.poll(() => redisClients(dbIndex)).toBe(0);
  });
});

describe("Postgres restart survival", () => {
  it("answers the next request after every server-side connection was terminated", async () => {
    const name = `resilience-${crypto.randomUUID().slice(0, 8)}`;
    const url = withApplicationName(DATABASE_URL, name);
    const db = openPostgres(url);
    try {
      await db.ping(); // a live connection that the server is about to drop
      expect(await terminatePostgresSessions(name)).toBeGreaterThanOrEqual(1);

      // The handle that lost its connection reconnects on a later query (at most one call fails, 503).
      await db.ping().catch((err: unknown) => expect((err as Error).name).toBe("StorageUnavailableError"));
      await expect(db.ping()).resolves.toBeUndefined();
    } finally {
      await db.close();
    }

    const request = appWith({ DATABASE_URL: url });
    expect((await request("/health")).status).toBe(200);
    await terminatePostgresSessions(name);
    const res = await request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ storage: { database: { kind: "postgres", status: "ok" } } });
  });
});

describe("Redis restart survival", () => {
  it("answers the next request after CLIENT KILL dropped every connection", async () => {
    const db = 7;
    const url = new URL(KILLABLE_REDIS_URL);
    url.pathname = `/${db}`;
    const store = openRedis(url.toString());
    try {
      await store.set(`resilience:${crypto.randomUUID()}`, "1", 60);
      expect(await killRedisClients(db)).toBeGreaterThanOrEqual(1);
      await store.ping().catch((err: unknown) => expect((err as Error).name).toBe("StorageUnavailableError"));
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }

    const request = appWith({ REDIS_URL: url.toString() });
    expect((await request("/health")).status).toBe(200);
    await killRedisClients(db);
    const res = await request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ storage: { ephemeral: { kind: "redis", status: "ok" } } });
  });

  it("sets native TTLs", async () => {
    const key = `ttl:${crypto.randomUUID()}`;
    const store = openRedis(REDIS_URL);
    const admin = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } });
    admin.on("error", () => {});
    try {
      await store.set(key, "v", 30);
      await admin.connect();
      const ttl = await admin.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30);
    } finally {
      await store.close();
      await admin.close().catch(() => admin.destroy());
    }
  });
});

describe("a store that cannot be reached", () => {
  it("Redis down: /health is 503 and a storage route is 503 storage_unavailable, quickly", async () => {
    const request = appWith({ REDIS_URL: CLOSED_PORT_REDIS });
    const started = Date.now();

    const health = await request("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: "degraded",
      storage: { database: { status: "ok" }, ephemeral: { kind: "redis", status: "down" } },
    });

    const res = await request("/__test/stores");
    expect(res.status).toBe(503);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 503, code: "storage_unavailable" });
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|redis:\/\//i);
    // No reconnect loop: a down Redis answers within the connect timeout, not after retries.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("Postgres down: /health is 503 and a storage route is 503 storage_unavailable", async () => {
    const request = appWith({ DATABASE_URL: CLOSED_PORT_PG });
    const health = await request("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      storage: { database: { kind: "postgres", status: "down" }, ephemeral: { status: "ok" } },
    });
    const res = await request("/__test/stores");
    expect(res.status).toBe(503);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 503, code: "storage_unavailable" });
    expect(JSON.stringify(body)).not.toMatch(/postgres:\/\/|ECONNREFUSED/i);
  });
});
