// Both dialects must hold the same tables, columns, nullability, keys and indexes: the shared repositories
// (src/storage/sql/) run the same statements on both. Backend-independent, so D1 project only.
/// <reference types="vite/client" />
import { is } from "drizzle-orm";
import { PgTable, getTableConfig as pgTableConfig } from "drizzle-orm/pg-core";
import { SQLiteTable, getTableConfig as sqliteTableConfig } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import * as d1 from "../../src/storage/d1/schema";
import * as pg from "../../src/storage/postgres/schema";

interface Shape {
  columns: Record<string, { notNull: boolean; primaryKey: boolean }>;
  indexes: Record<string, { columns: string[]; unique: boolean }>;
  primaryKeys: string[][];
  foreignKeys: string[];
}

const nameOf = (c: unknown): string => (c as { name: string }).name;
const fk = (from: string[], table: string, to: string[], onDelete: string | undefined) =>
  `${from.join(",")} -> ${table}(${to.join(",")}) on delete ${onDelete ?? "no action"}`;

type Config = ReturnType<typeof pgTableConfig> | ReturnType<typeof sqliteTableConfig>;

function fromTable(config: Config, skipIndexes: ReadonlySet<string> = new Set()): Shape {
  return {
    columns: Object.fromEntries(
      config.columns.map((c) => [c.name, { notNull: c.notNull, primaryKey: c.primary }]),
    ),
    indexes: Object.fromEntries(
      config.indexes
        .filter((i) => !skipIndexes.has(i.config.name ?? ""))
        .map((i) => [i.config.name, { columns: i.config.columns.map(nameOf), unique: i.config.unique }]),
    ),
    primaryKeys: config.primaryKeys.map((k) => k.columns.map(nameOf)),
    foreignKeys: config.foreignKeys
      .map((f) => {
        const r = f.reference();
        return fk(
          r.columns.map(nameOf),
          nameOf({ name: tableName(r.foreignTable) }),
          r.foreignColumns.map(nameOf),
          f.onDelete,
        );
      })
      .sort(),
  };
}

function tableName(table: unknown): string {
  return (table as Record<symbol, string>)[Symbol.for("drizzle:Name")]!;
}

interface SnapshotTable {
  name: string;
  columns: Record<string, { notNull: boolean; primaryKey: boolean }>;
  indexes: Record<string, { columns: (string | { expression: string })[]; isUnique: boolean }>;
  compositePrimaryKeys: Record<string, { columns: string[] }>;
  foreignKeys: Record<
    string,
    { tableTo: string; columnsFrom: string[]; columnsTo: string[]; onDelete?: string }
  >;
}

function fromSnapshot(table: SnapshotTable, skipIndexes: ReadonlySet<string> = new Set()): Shape {
  return {
    columns: Object.fromEntries(
      Object.values(table.columns).map((c) => [
        (c as unknown as { name: string }).name,
        { notNull: c.notNull, primaryKey: c.primaryKey },
      ]),
    ),
    indexes: Object.fromEntries(
      Object.entries(table.indexes)
        .filter(([name]) => !skipIndexes.has(name))
        .map(([name, i]) => [
          name,
          { columns: i.columns.map((c) => (typeof c === "string" ? c : c.expression)), unique: i.isUnique },
        ]),
    ),
    primaryKeys: Object.values(table.compositePrimaryKeys).map((k) => k.columns),
    foreignKeys: Object.values(table.foreignKeys)
      .map((f) =>
        fk(f.columnsFrom, f.tableTo, f.columnsTo, f.onDelete === "no action" ? undefined : f.onDelete),
      )
      .sort(),
  };
}

/** The newest migration snapshot of a dialect: what its migrations leave in the database. */
function latest(snapshots: Record<string, unknown>): Record<string, SnapshotTable> {
  const newest = Object.keys(snapshots).sort().at(-1)!;
  return (snapshots[newest] as { tables: Record<string, SnapshotTable> }).tables;
}

const d1Tables = Object.values(d1 as Record<string, unknown>).filter((v): v is SQLiteTable =>
  is(v, SQLiteTable),
);
const pgTables = Object.values(pg as Record<string, unknown>).filter((v): v is PgTable => is(v, PgTable));

const byName = <T>(tables: T[], shape: (t: T) => [string, Shape]) => Object.fromEntries(tables.map(shape));

const d1Schema = byName(d1Tables, (t) => {
  const c = sqliteTableConfig(t);
  return [c.name, fromTable(c)];
});
const pgSchema = byName(pgTables, (t) => {
  const c = pgTableConfig(t);
  return [c.name, fromTable(c, d1.POSTGRES_ONLY_INDEXES)];
});
const d1Migrated = Object.fromEntries(
  Object.values(
    latest(import.meta.glob("../../migrations/meta/*_snapshot.json", { eager: true, import: "default" })),
  ).map((t) => [t.name, fromSnapshot(t)]),
);
const pgMigrated = Object.fromEntries(
  Object.values(
    latest(
      import.meta.glob("../../migrations/postgres/meta/*_snapshot.json", { eager: true, import: "default" }),
    ),
  ).map((t) => [t.name, fromSnapshot(t, d1.POSTGRES_ONLY_INDEXES)]),
);

describe("schema parity between D1 and Postgres", () => {
  it("defines the same tables, columns, nullability, keys and indexes in both dialects", () => {
    expect(Object.keys(d1Schema).sort()).toEqual(Object.keys(pgSchema).sort());
    expect(Object.keys(d1Schema).length).toBeGreaterThanOrEqual(8);
    expect(d1Schema).toEqual(pgSchema);
  });

  it("has migrations that leave both databases with that schema", () => {
    // A schema change with a migration generated for one dialect only fails here.
    expect(d1Migrated).toEqual(d1Schema);
    expect(pgMigrated).toEqual(pgSchema);
  });

  it("keeps the Postgres-only indexes to Postgres", () => {
    const all = pgTableConfig(pg.users).indexes.map((i) => i.config.name);
    expect(all).toContain("users_email_lower_pattern_idx");
    expect(Object.keys(d1Schema.users!.indexes)).not.toContain("users_email_lower_pattern_idx");
    expect(
      latest(
        import.meta.glob("../../migrations/postgres/meta/*_snapshot.json", {
          eager: true,
          import: "default",
        }),
      )["public.users"]?.indexes,
    ).toHaveProperty("users_email_lower_pattern_idx");
  });
});
