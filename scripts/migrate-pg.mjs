// Applies migrations/postgres/ to a Postgres database with drizzle-orm's node-postgres migrator.
// `npm run db:migrate:pg` (reads DATABASE_URL); also imported by the test globalSetup.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { parseDevVars } from "./dev-vars.mjs";

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), "..", "migrations", "postgres");

// Any constant works; it only has to be the same for every process migrating this database.
const MIGRATION_LOCK = 7_201_407;

/** @param {string} connectionString */
export async function migratePostgres(connectionString) {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    // Two deploys (or two test runs) against one database must not race on the migrations table.
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await migrate(drizzle(client), { migrationsFolder });
  } finally {
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    await client.end();
  }
}

/** DATABASE_URL from .dev.vars, so `npm run db:migrate:pg` targets what `wrangler dev` uses. */
function devVarsDatabaseUrl() {
  const file = join(dirname(fileURLToPath(import.meta.url)), "..", ".dev.vars");
  if (!existsSync(file)) return undefined;
  return parseDevVars(readFileSync(file, "utf8")).DATABASE_URL?.trim() || undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const url = process.env.DATABASE_URL || devVarsDatabaseUrl();
  if (!url) {
    console.error(
      "db:migrate:pg: set DATABASE_URL (postgres://user:pass@host:5432/db) or put it in .dev.vars",
    );
    process.exit(1);
  }
  try {
    await migratePostgres(url);
    console.log(`db:migrate:pg: ${new URL(url).pathname.slice(1)} is up to date`);
  } catch (err) {
    console.error(`db:migrate:pg: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
