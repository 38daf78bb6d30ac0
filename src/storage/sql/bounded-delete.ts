import { inArray, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { SqlDb } from "./dialect";

/**
 * The primary keys of at most `limit` rows of `table` matching `where`: the batch one clean-up statement
 * removes. No ORDER BY on purpose: sorting would read every match to pick the first `limit`, which is the
 * unbounded work the batch exists to avoid; any `limit` matches will do.
 */
export function batchOf(db: SqlDb, table: PgTable, key: PgColumn, where: SQL | undefined, limit: number) {
  return db.select({ key }).from(table).where(where).limit(limit);
}

/**
 * Deletes at most `limit` rows of `table` matching `where` in one statement (same SQL on D1 and
 * Postgres) and returns how many went. A return of `limit` means more may remain.
 */
export async function deleteBatch(
  db: SqlDb,
  table: PgTable,
  key: PgColumn,
  where: SQL | undefined,
  limit: number,
): Promise<number> {
  const rows = await db
    .delete(table)
    .where(inArray(key, batchOf(db, table, key, where, limit)))
    .returning({ key });
  return rows.length;
}
