// Postgres only: the operator's first mistakes (tables not migrated, a database that does not exist, a
// port with nothing behind it, a silent server) are 503s whose log line names the cause, without secrets.
import { env } from "cloudflare:workers";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { SCHEMA_VERSION } from "../../src/health";
import { requireSetting } from "./settings";

const DATABASE_URL = requireSetting(env, "DATABASE_URL");
const { silentPostgresUrl } = inject("faults");
const BASE = "https://auth.example.test";
const empty = `edge_auth_ops_empty_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;

function urlFor(database: string, password?: string): string {
  const u = new URL(DATABASE_URL);
  u.pathname = `/${database}`;
  if (password) u.password = password;
  return u.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor("postgres") });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

function appWith(databaseUrl: string) {
  const app = createApp();
  return (path: string, init?: RequestInit) =>
    app.request(`${BASE}${path}`, init, {
      ...env,
      DATABASE_URL: databaseUrl,
      STORAGE_CONNECT_TIMEOUT_MS: "1500",
    });
}

const login: RequestInit = {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ email: "a@example.com", password: "correct horse battery" }),
};

beforeAll(() => admin(`create database "${empty}"`));
afterAll(() => admin(`drop database if exists "${empty}" with (force)`));
afterEach(() => vi.restoreAllMocks());

describe("a database without tables", () => {
  it("/health is 503 migrations pending with expected and found versions", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await appWith(urlFor(empty))("/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: "degraded",
      storage: { database: { kind: "postgres", status: "ok" } },
      schema: { expected: SCHEMA_VERSION, found: 0 },
      detail: `migrations pending: ${SCHEMA_VERSION} of ${SCHEMA_VERSION} not applied`,
    });
  });

  it("a request reaching a table is 503 storage_unavailable and the log names the missing table", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await appWith(urlFor(empty))("/auth/login", login);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "storage_unavailable" });
    expect(spy.mock.calls.flat().join(" ")).toMatch(
      /migrations pending: relation \W+users\W+ does not exist/,
    );
  });
});

describe("the log says why Postgres cannot be used", () => {
  const cases: [string, string, RegExp][] = [
    [
      "a database that does not exist",
      urlFor("edge_auth_no_such_db", "s3cr3t-pw"),
      /database does not exist/,
    ],
    ["a port with no listener", "postgres://u:s3cr3t-pw@127.0.0.1:1/x", /connection refused/],
    ["a server that never answers", silentPostgresUrl, /timeout/],
  ];
  for (const [what, url, cause] of cases) {
    it(`${what}: 503, cause in the log, no password anywhere`, async () => {
      const spy = vi.spyOn(console, "error").mockImplementation(() => {});
      const started = Date.now();
      const res = await appWith(url)("/auth/login", login);
      expect(res.status).toBe(503);
      // The promise is 2 s (a 1.5 s connect deadline); the bound is generous for a loaded CI machine.
      expect(Date.now() - started).toBeLessThan(3_000);
      const body = await res.text();
      const log = spy.mock.calls.flat().join(" ");
      expect(log).toMatch(cause);
      expect(log).not.toContain("s3cr3t-pw");
      expect(body).not.toMatch(/s3cr3t-pw|does not exist|refused|timeout/);
    });
  }
});
