import { getTableColumns, type Table } from "drizzle-orm";
import { getTableConfig, type PgColumn, type PgTable } from "drizzle-orm/pg-core";
import {
  type AnySQLiteColumn,
  index,
  integer,
  primaryKey,
  type SQLiteColumnBuilderBase,
  type SQLiteTable,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";
import * as pg from "../postgres/schema";

/**
 * The D1 (SQLite) tables, derived from the Postgres ones (src/storage/postgres/schema.ts) so the schema
 * is written once: same tables, columns, nullability, defaults, keys, foreign keys and indexes. Only the
 * storage types differ, here. `npm run db:generate` reads these tables like any hand-written ones (it
 * reported no change against migrations/ when this replaced them), and
 * test/storage/schema-parity.test.ts compares both dialects and their migration snapshots.
 */

/** Indexes only Postgres needs: its LIKE prefix search wants text_pattern_ops; D1 uses a range instead. */
export const POSTGRES_ONLY_INDEXES: ReadonlySet<string> = new Set(["users_email_lower_pattern_idx"]);

type Builder = SQLiteColumnBuilderBase & {
  notNull(): Builder;
  primaryKey(): Builder;
  default(value: unknown): Builder;
  references(ref: () => AnySQLiteColumn, actions: { onDelete?: "cascade" }): Builder;
};

function storageType(column: PgColumn): Builder {
  const { name } = column;
  const built = (() => {
    switch (column.columnType) {
      case "PgText":
        return column.enumValues
          ? text(name, { enum: column.enumValues as [string, ...string[]] })
          : text(name);
      case "PgBoolean":
        return integer(name, { mode: "boolean" });
      case "PgInteger":
        return integer(name);
      // SQLite integers are 64-bit: a bigint (e.g. a passkey's unsigned 32-bit counter) fits as is.
      case "PgBigInt53":
        return integer(name);
      // Integer milliseconds since the epoch (UTC): cheap to compare, exact in keyset cursors.
      case "PgTimestamp":
        return integer(name, { mode: "timestamp_ms" });
      case "PgJsonb":
        return text(name, { mode: "json" });
      default:
        throw new Error(`no D1 type for ${column.columnType} (${name})`);
    }
  })();
  return built as unknown as Builder;
}

/** Typed loosely on purpose: the repositories use the Postgres tables' types for both dialects. */
type D1Table = SQLiteTable & Record<string, AnySQLiteColumn>;

const derived = new Map<Table, D1Table>();

function derive(table: PgTable): D1Table {
  const config = getTableConfig(table);
  // Index and key definitions carry their own column objects: match them to ours by SQL name.
  const keyOf = new Map(Object.entries(getTableColumns(table)).map(([key, c]) => [c.name, key]));
  const col = (t: Record<string, AnySQLiteColumn>, c: unknown) => t[keyOf.get((c as PgColumn).name)!]!;
  const columns: Record<string, SQLiteColumnBuilderBase> = {};
  for (const [key, column] of Object.entries(getTableColumns(table)) as [string, PgColumn][]) {
    let b = storageType(column);
    if (column.primary) b = b.primaryKey();
    if (column.notNull && !column.primary) b = b.notNull();
    if (column.hasDefault) b = b.default(column.default);
    const fk = config.foreignKeys.find((f) => f.reference().columns[0] === column);
    if (fk) {
      const ref = fk.reference();
      const target = ref.foreignColumns[0]!;
      const targetKey = getTableColumns(ref.foreignTable);
      const name = Object.keys(targetKey).find((k) => targetKey[k] === target)!;
      b = b.references(() => derived.get(ref.foreignTable)![name] as AnySQLiteColumn, {
        onDelete: fk.onDelete as "cascade",
      });
    }
    columns[key] = b;
  }
  const out = sqliteTable(config.name, columns, (t) => [
    ...config.primaryKeys.map((pk) => primaryKey({ columns: pk.columns.map((c) => col(t, c)) as never })),
    ...config.indexes
      .filter((i) => !POSTGRES_ONLY_INDEXES.has(i.config.name!))
      .map((i) =>
        (i.config.unique ? uniqueIndex : index)(i.config.name!).on(
          ...(i.config.columns.map((c) => col(t, c)) as [never, ...never[]]),
        ),
      ),
  ]);
  derived.set(table, out as unknown as D1Table);
  return out as unknown as D1Table;
}

// In foreign-key order: a table is derived after the tables it references.
export const users = derive(pg.users);
export const sessions = derive(pg.sessions);
export const refreshTokens = derive(pg.refreshTokens);
export const oneTimeTokens = derive(pg.oneTimeTokens);
export const auditLog = derive(pg.auditLog);
export const auditAnchors = derive(pg.auditAnchors);
export const webhookOutbox = derive(pg.webhookOutbox);
export const oauthAccounts = derive(pg.oauthAccounts);
export const recoveryCodes = derive(pg.recoveryCodes);
export const counters = derive(pg.counters);
export const legacySpentTokens = derive(pg.legacySpentTokens);
export const loginThrottle = derive(pg.loginThrottle);
export const passkeys = derive(pg.passkeys);
export const passkeyChallenges = derive(pg.passkeyChallenges);
