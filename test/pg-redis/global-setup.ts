// Runs in Node before the pg-redis workers start: brings the test database to the current schema with
// the same migrator as `npm run db:migrate:pg`, creating the database first if it does not exist yet.
import type { TestProject } from "vitest/node";
// @ts-expect-error plain .mjs script without declarations; its one export is typed below.
import { migratePostgres as migrate } from "../../scripts/migrate-pg.mjs";

const migratePostgres = migrate as (connectionString: string) => Promise<void>;

async function createDatabase(connectionString: string): Promise<void> {
  const { default: pg } = await import("pg");
  const target = new URL(connectionString);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(connectionString);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/** Empties the migrated database: every per-file clone starts from it, so it must hold no rows. */
async function emptyTables(connectionString: string): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "select quote_ident(tablename) as name from pg_tables where schemaname = 'public'",
    );
    if (rows.length > 0) await client.query(`truncate ${rows.map((r) => r.name).join(", ")} cascade`);
  } finally {
    await client.end();
  }
}

/** Drops the per-file databases test/pg-redis/setup.ts cloned during this run. */
async function dropClones(connectionString: string, clonePrefix: string): Promise<void> {
  const { default: pg } = await import("pg");
  const admin = new URL(connectionString);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "select quote_ident(datname) as name from pg_database where starts_with(datname, $1)",
      [clonePrefix],
    );
    for (const { name } of rows) await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const provided = project.config.provide.pgRedis;
  if (!provided) throw new Error("pg-redis globalSetup: the project config provides no pgRedis targets");
  const { databaseUrl, clonePrefix } = provided;
  try {
    await migratePostgres(databaseUrl);
  } catch (err) {
    // 3D000 invalid_catalog_name: the database does not exist (a laptop's first run).
    if ((err as { code?: string }).code !== "3D000") throw err;
    await createDatabase(databaseUrl);
    await migratePostgres(databaseUrl);
  }
  await emptyTables(databaseUrl);
  return () => dropClones(databaseUrl, clonePrefix);
}
