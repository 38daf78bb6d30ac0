import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, vi } from "vitest";

// Test files share one workerd per vitest worker (isolate: false in vitest.config.ts), so this file,
// which runs before every test file, gives each file what a fresh workerd gave it: migrated, empty
// D1 and KV. Then no file sees another's rows, as before.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

const { results: tables } = await env.DB.prepare(
  "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '_cf_%' and name <> 'd1_migrations'",
).all<{ name: string }>();
if (tables.length > 0) {
  // Deferred foreign keys: the order of the deletes does not matter inside the batch.
  await env.DB.batch([
    env.DB.prepare("pragma defer_foreign_keys = on"),
    ...tables.map(({ name }) => env.DB.prepare(`delete from "${name.replaceAll('"', '""')}"`)),
  ]);
}

let cursor: string | undefined;
do {
  const page = await env.KV.list({ cursor });
  await Promise.all(page.keys.map(({ name }) => env.KV.delete(name)));
  cursor = page.list_complete ? undefined : page.cursor;
} while (cursor);

// A test that fails between faking the clock (or spying) and its own cleanup must not leak the fake
// into the next test or, with shared workers, the next file.
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});
