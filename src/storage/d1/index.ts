import { and, gte, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { StorageUnavailableError } from "../../errors";
import {
  type Dialect,
  OutboxWriter,
  type SqlDb,
  SqlPasskeyRepository,
  sqlRepositories,
  type Tables,
} from "../sql";
import type { Database, OutboxOptions } from "../types";
import { D1AccountRepository } from "./accounts";
import * as tables from "./schema";
import { D1SessionRepository } from "./sessions";
import { D1TwoFactorRepository } from "./two-factor";

/** Runs statements as one D1 batch (one round trip, one transaction); the results in statement order. */
export type D1Batch = (statements: PromiseLike<unknown>[]) => Promise<readonly unknown[]>;

/** The D1 (SQLite) side of the shared relational layer. */
export function d1Dialect(binding: D1Database | D1DatabaseSession) {
  // A D1 session answers prepare() and batch() as the binding does, which is all drizzle calls.
  const db = drizzle(binding as D1Database);
  // The statements are built by this same D1 instance (through the shared builder types).
  const batch: D1Batch = (statements) => db.batch(statements as unknown as Parameters<typeof db.batch>[0]);
  const dialect: Dialect = {
    // drizzle's D1 builders answer the shared calls as the pg-core ones do (see SqlDb); the parity test
    // keeps the tables column for column alike.
    db: db as unknown as SqlDb,
    t: tables as unknown as Tables,
    timestamp: (at) => sql`${at.getTime()}`,
    joinedText: (column) => sql<string | null>`group_concat(${column})`,
    // A range instead of LIKE: SQLite only uses an index for LIKE under case_sensitive_like, while this
    // range is served by users_email_lower_uq. Binary comparison makes it an exact prefix test (% and _
    // are plain characters here); U+10FFFF sorts after every other code point.
    startsWith: (column, prefix) => and(gte(column, prefix), lt(column, `${prefix}\u{10FFFF}`)) ?? sql`1`,
    // SQLite compares text bytewise (BINARY) already.
    byteOrder: (column) => sql`${column}`,
    // A row-value comparison, not `a < x OR (a = x AND b < y)`: SQLite seeks the (created_at, id) index
    // with it, while the OR form scans from the newest row down (the last page of 1M audit rows took
    // ~100x the first; npm run bench, "audit ... last page").
    before: (createdAt, id, at) => sql`(${createdAt}, ${id}) < (${at.createdAt}, ${at.id})`,
    writeTogether: async (statements) => {
      await batch(statements);
    },
  };
  return { db, dialect, batch };
}

export function openD1(binding: D1Database | D1DatabaseSession, outboxOptions?: OutboxOptions): Database {
  const { db, dialect, batch } = d1Dialect(binding);
  const outbox = outboxOptions ? new OutboxWriter(dialect, outboxOptions) : null;
  return {
    kind: "d1",
    ...sqlRepositories(
      dialect,
      {
        sessions: new D1SessionRepository(dialect, batch, outbox),
        twoFactor: new D1TwoFactorRepository(dialect, batch),
        passkeys: new SqlPasskeyRepository(dialect),
        accounts: new D1AccountRepository(dialect, batch, outbox),
      },
      outbox,
    ),
    async ping() {
      try {
        await db.run(sql`select 1`);
      } catch (err) {
        throw new StorageUnavailableError("D1 is unreachable", { cause: err });
      }
    },
    async close() {},
  };
}
