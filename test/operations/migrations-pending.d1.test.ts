// D1 only: a database whose migrations are not all applied is reported by /health (503 "migrations
// pending") and a request reaching a missing table is a 503 with the cause in the log, never a 500.
import { applyD1Migrations } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SCHEMA_VERSION } from "../../src/health";
import { BASE } from "../helpers";

const call = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`${BASE}${path}`, init));

// Test files share one D1 per vitest worker (test/setup.ts): rebuild the schema this file breaks, so the
// next file starts from a migrated database again.
afterEach(async () => {
  vi.restoreAllMocks();
  const { results } = await env.DB.prepare(
    "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '_cf_%'",
  ).all<{ name: string }>();
  await env.DB.batch([
    env.DB.prepare("pragma defer_foreign_keys = on"),
    ...results.map(({ name }) => env.DB.prepare(`drop table "${name.replaceAll('"', '""')}"`)),
  ]);
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
});

describe("D1 with pending migrations", () => {
  it("/health answers 503 with expected and found versions", async () => {
    const last = env.TEST_MIGRATIONS.at(-1)!.name;
    await env.DB.prepare("delete from d1_migrations where name = ?").bind(last).run();
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await call("/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: "degraded",
      storage: { database: { kind: "d1", status: "ok" } },
      schema: { expected: SCHEMA_VERSION, found: SCHEMA_VERSION - 1 },
      detail: expect.stringMatching(/^migrations pending: /),
    });
    expect(spy.mock.calls.flat().join(" ")).toMatch(/migrations pending: .*db:migrate:local/);
  });

  it("a request that reaches a missing table is 503 storage_unavailable, and the log says why", async () => {
    await env.DB.batch([
      env.DB.prepare("pragma defer_foreign_keys = on"),
      env.DB.prepare("drop table users"),
    ]);
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await call("/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "storage_unavailable" });
    expect(spy.mock.calls.flat().join(" ")).toMatch(/migrations pending: no such table: users/);
  });
});
