// pg-redis project only, after test/setup.ts. The pool isolates D1/KV storage per test; Postgres gets the
// same treatment so the HTTP suite (fixed emails, "lists exactly these users") passes on both backends:
// each test file works in its own database, cloned from the migrated one, and emptied after every test.
import { env } from "cloudflare:workers";
import pg from "pg";
import { afterEach, inject } from "vitest";
import { requireSetting } from "./settings";

const bindings = env as Record<string, unknown>;
const { clonePrefix } = inject("pgRedis");
const template = new URL(requireSetting(bindings, "DATABASE_URL"));
const templateName = decodeURIComponent(template.pathname.slice(1));
const cloneName = `${clonePrefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

async function withClient<T>(url: URL, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  client.on("error", () => {}); // workerd: "socket has been closed" after end()
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const maintenance = new URL(template);
maintenance.pathname = "/postgres";
await withClient(maintenance, (c) =>
  c.query(`create database ${quote(cloneName)} template ${quote(templateName)}`),
);
const clone = new URL(template);
clone.pathname = `/${encodeURIComponent(cloneName)}`;
// Read per request by the app (and by the test files, which import after this runs).
bindings.DATABASE_URL = clone.toString();

afterEach(async () => {
  await withClient(clone, async (c) => {
    const { rows } = await c.query<{ name: string }>(
      "select quote_ident(tablename) as name from pg_tables where schemaname = 'public'",
    );
    if (rows.length > 0) await c.query(`truncate ${rows.map((r) => r.name).join(", ")} cascade`);
  });
});
