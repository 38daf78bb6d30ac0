// pg-redis project only, after test/setup.ts. D1/KV start empty for every test file; Postgres gets the
// same treatment so the HTTP suite (fixed emails, "lists exactly these users") passes on both backends:
// each vitest worker works in its own database, cloned once from the migrated one, emptied before each
// file and after every test. Test files run one after another in a worker (isolate: false), and the
// database URL stays the same for the worker's life (config is cached per env object).
import { env } from "cloudflare:workers";
// The Postgres/Redis entry registers the drivers, as a deployment naming it as `main` does.
import "../../src/index.postgres";
import pg from "pg";
import { afterEach, inject } from "vitest";
import { requireSetting } from "./settings";

const bindings = env as Record<string, unknown>;
const worker = globalThis as { pgRedisClone?: string };
const { clonePrefix, databaseUrl } = inject("pgRedis");
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

/**
 * The tables, children before the parents they reference. DELETE, not TRUNCATE: on a handful of rows
 * a DELETE takes milliseconds where TRUNCATE (new files per table) takes hundreds, after every test.
 */
async function deletionOrder(client: pg.Client): Promise<string[]> {
  const tables = await client.query<{ name: string }>(
    "select quote_ident(tablename) as name from pg_tables where schemaname = 'public'",
  );
  const links = await client.query<{ child: string; parent: string }>(
    `select quote_ident(child.relname) as child, quote_ident(parent.relname) as parent
       from pg_constraint c
       join pg_class child on child.oid = c.conrelid
       join pg_class parent on parent.oid = c.confrelid
      where c.contype = 'f' and c.connamespace = 'public'::regnamespace and c.conrelid <> c.confrelid`,
  );
  const order: string[] = [];
  let left = tables.rows.map((r) => r.name);
  while (left.length > 0) {
    // A table goes once no remaining table references it.
    const ready = left.filter((t) => !links.rows.some((l) => l.parent === t && left.includes(l.child)));
    if (ready.length === 0) throw new Error(`foreign-key cycle among ${left.join(", ")}`);
    order.push(...ready);
    left = left.filter((t) => !ready.includes(t));
  }
  return order;
}

let order: string[] | undefined;
async function emptyTables(url: URL): Promise<void> {
  await withClient(url, async (c) => {
    order ??= await deletionOrder(c);
    if (order.length > 0) await c.query(order.map((t) => `delete from ${t};`).join(" "));
  });
}

if (worker.pgRedisClone === undefined) {
  requireSetting(bindings, "DATABASE_URL");
  const template = new URL(databaseUrl);
  const templateName = decodeURIComponent(template.pathname.slice(1));
  const cloneName = `${clonePrefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const maintenance = new URL(template);
  maintenance.pathname = "/postgres";
  await withClient(maintenance, (c) =>
    c.query(`create database ${quote(cloneName)} template ${quote(templateName)}`),
  );
  const clone = new URL(template);
  clone.pathname = `/${encodeURIComponent(cloneName)}`;
  worker.pgRedisClone = clone.toString();
  // Read per request by the app (and by the test files, which import after this runs).
  bindings.DATABASE_URL = worker.pgRedisClone;
}
const clone = new URL(worker.pgRedisClone);

// Rows the previous file's deferred work (waitUntil) wrote after its last test are gone too.
await emptyTables(clone);
afterEach(() => emptyTables(clone));
