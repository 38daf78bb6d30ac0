import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "./context";
import { StorageUnavailableError } from "./errors";
import { createRouter } from "./router";
import { loadDriver } from "./storage/drivers";

/**
 * The number of migrations this code expects (migrations/*.sql for D1, migrations/postgres for Postgres;
 * both folders always hold the same steps). test/operations/health.test.ts fails when a migration is
 * added without bumping this.
 */
export const SCHEMA_VERSION = 10;

const MIGRATE_HINT = {
  d1: "npm run db:migrate:local (or db:migrate:remote)",
  postgres: "npm run db:migrate:pg",
} as const;

const StoreStatus = z.object({ kind: z.string(), status: z.enum(["ok", "down"]) });
const SchemaStatus = z.object({
  expected: z.number().int().openapi({ description: "Migrations this build expects" }),
  found: z
    .number()
    .int()
    .nullable()
    .openapi({ description: "Migrations applied to the database; null when it cannot be read" }),
});
const HealthBody = z
  .object({
    status: z.enum(["ok", "degraded"]),
    storage: z.object({ database: StoreStatus, ephemeral: StoreStatus }),
    schema: SchemaStatus,
    detail: z
      .string()
      .optional()
      .openapi({ description: 'Why the service is degraded, e.g. "migrations pending: …"' }),
  })
  .openapi("Health");

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["meta"],
  summary: "Liveness, storage reachability and schema version",
  responses: {
    200: {
      description: "Both stores answer and every migration is applied",
      content: { "application/json": { schema: HealthBody } },
    },
    503: {
      description: "A store is down, or migrations are pending",
      content: { "application/json": { schema: HealthBody } },
    },
  },
});

/**
 * Migrations recorded as applied, read from the migrator's own bookkeeping: wrangler's d1_migrations, or
 * drizzle's drizzle.__drizzle_migrations. A missing bookkeeping table means none were applied (0).
 */
async function appliedMigrations(c: Context<AppEnv>): Promise<{ kind: "d1" | "postgres"; found: number }> {
  const { config } = c.var.deps;
  const url = config.DATABASE_URL ?? c.env.HYPERDRIVE?.connectionString;
  if (!url) {
    try {
      const row = await c.env.DB.prepare("select count(*) as n from d1_migrations").first<{ n: number }>();
      return { kind: "d1", found: Number(row?.n ?? 0) };
    } catch (err) {
      if (/no such table/i.test(String(err))) return { kind: "d1", found: 0 };
      throw new StorageUnavailableError("D1 did not answer", { cause: err });
    }
  }
  const { LazyPgClient } = await loadDriver("postgresConnection");
  const client = new LazyPgClient(url, config.STORAGE_CONNECT_TIMEOUT_MS);
  try {
    const exists = await client.query({
      text: "select to_regclass('drizzle.__drizzle_migrations') is not null as present",
    });
    if (!(exists.rows[0] as { present: boolean } | undefined)?.present) return { kind: "postgres", found: 0 };
    const { rows } = await client.query({ text: "select count(*) as n from drizzle.__drizzle_migrations" });
    return { kind: "postgres", found: Number((rows[0] as { n: string | number } | undefined)?.n ?? 0) };
  } finally {
    await client.end();
  }
}

export function healthRoutes(): ReturnType<typeof createRouter> {
  const router = createRouter();
  router.openapi(route, async (c) => {
    const { db, ephemeral } = c.var.deps;
    const [d, e] = await Promise.allSettled([appliedMigrations(c), ephemeral.ping()]);
    const found = d.status === "fulfilled" ? d.value.found : null;
    const problems: string[] = [];
    if (d.status === "rejected") problems.push(`database down: ${reason(d.reason)}`);
    if (e.status === "rejected") problems.push(`ephemeral store down: ${reason(e.reason)}`);
    if (d.status === "fulfilled" && d.value.found < SCHEMA_VERSION) {
      problems.push(
        `migrations pending: the database has ${d.value.found} of ${SCHEMA_VERSION}; run ${MIGRATE_HINT[d.value.kind]}`,
      );
    }
    if (problems.length > 0) {
      // The log gets the cause (secret-free: StorageUnavailableError messages name host and reason only).
      console.error(JSON.stringify({ level: "error", msg: "health degraded", problems }));
    }
    const body = {
      status: problems.length === 0 ? ("ok" as const) : ("degraded" as const),
      storage: {
        database: { kind: db.kind, status: d.status === "fulfilled" ? ("ok" as const) : ("down" as const) },
        ephemeral: {
          kind: ephemeral.kind,
          status: e.status === "fulfilled" ? ("ok" as const) : ("down" as const),
        },
      },
      schema: { expected: SCHEMA_VERSION, found },
      // Only the migration state is said on the wire: store addresses and causes stay in the log.
      ...(found !== null && found < SCHEMA_VERSION
        ? { detail: `migrations pending: ${SCHEMA_VERSION - found} of ${SCHEMA_VERSION} not applied` }
        : {}),
    };
    return body.status === "ok" ? c.json(body, 200) : c.json(body, 503);
  });
  return router;
}

function reason(err: unknown): string {
  return err instanceof StorageUnavailableError ? err.message : err instanceof Error ? err.name : "error";
}
