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

export default async function setup(project: TestProject): Promise<void> {
  const { databaseUrl } = project.config.provide.pgRedis as { databaseUrl: string };
  try {
    await migratePostgres(databaseUrl);
  } catch (err) {
    // 3D000 invalid_catalog_name: the database does not exist (a laptop's first run).
    if ((err as { code?: string }).code !== "3D000") throw err;
    await createDatabase(databaseUrl);
    await migratePostgres(databaseUrl);
  }
}
