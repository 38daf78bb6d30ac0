import type { Column, SQL, SQLWrapper } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { CursorPosition } from "../cursor";
import type * as tables from "../postgres/schema";
import type { NewAuditEntry } from "../types";

/**
 * The query builder the shared repositories use. Typed with pg-core's builders because their surface
 * (awaiting a select, or a write with RETURNING, yields its rows; no .get()/.all()/.run()) is what
 * drizzle's D1 builders also do, call for call. The D1 dialect hands its builder and tables over under
 * these types; the schema-parity test (test/storage/schema-parity.test.ts) and the contract suites, run
 * on both backends, are what keep that true. Statements only one dialect can run (data-modifying CTEs,
 * batches) stay in that dialect's files.
 */
export type SqlDb = PgDatabase<PgQueryResultHKT>;

/** The tables, column for column the same in both dialects (the parity test checks it). */
export type Tables = typeof tables;

/** Where the dialects differ in SQL text or in how statements travel together. */
export interface Dialect {
  readonly db: SqlDb;
  readonly t: Tables;
  /** A time as a bound value in raw SQL (D1 stores epoch ms, Postgres timestamptz). */
  timestamp(at: Date): SQL;
  /** Comma-joined values of `column` over a correlated subquery's rows (order does not matter). */
  joinedText(column: Column): SQL<string | null>;
  /** `column` starts with `prefix`, taken literally (no wildcards). */
  startsWith(column: Column, prefix: string): SQL;
  /** Ids compare bytewise on both backends: the ORDER BY and the keyset condition must agree. */
  byteOrder(column: Column): SQL;
  /** Newest-first keyset condition: rows strictly before `position` in (createdAt, id) order. */
  before(createdAt: Column, id: Column, position: CursorPosition): SQL;
  /**
   * Runs independent writes (no RETURNING read) as one atomic unit: one D1 batch, or one Postgres
   * statement of data-modifying CTEs. Either all land or none does (a failure throws).
   */
  writeTogether(statements: [AtomicWrite, ...AtomicWrite[]]): Promise<void>;
  /**
   * Where the database can hash (Postgres: sha256()), a chained append as ONE statement: tail read, hash
   * and insert (and the outbox row when `outbox`), throwing on a chain conflict like the two-step write.
   * Absent on D1: SQLite has no SHA-256, so the tail is read first.
   */
  appendChained?(entry: NewAuditEntry, outbox: boolean): Promise<void>;
}

/** A write built with the dialect's `db` (an insert or update builder, awaited by neither caller). */
export type AtomicWrite = SQLWrapper & PromiseLike<unknown>;
