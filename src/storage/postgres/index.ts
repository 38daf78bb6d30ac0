import { and, eq, like, lt, lte, or, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { StorageUnavailableError } from "../../errors";
import { type Dialect, OutboxWriter, sqlRepositories } from "../sql";
import type { Database, DatabaseOptions } from "../types";
import { PgAccountRepository } from "./accounts";
import { chainedInsert, queuedFromLogged } from "./audit-chain";
import { LazyPgClient } from "./connection";
import { PgPasskeyRepository } from "./passkeys";
import * as tables from "./schema";
import { PgSessionRepository } from "./sessions";
import { PgTwoFactorRepository } from "./two-factor";

/** The user's text is matched literally: `%` and `_` in a search are not wildcards. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The Postgres side of the shared relational layer. */
function pgDialect(db: NodePgDatabase): Dialect {
  // Ids compare bytewise, as in SQLite, whatever the database's default collation.
  const byteOrder: Dialect["byteOrder"] = (column) => sql`${column} collate "C"`;
  return {
    db,
    t: tables,
    timestamp: (at) => sql`${at.toISOString()}::timestamptz`,
    joinedText: (column) => sql<string | null>`string_agg(${column}, ',' order by ${column})`,
    // Served by users_email_lower_pattern_idx (text_pattern_ops) whatever the collation.
    startsWith: (column, prefix) => like(column, sql`${`${escapeLike(prefix)}%`} escape '\\'`),
    byteOrder,
    before: (createdAt, id, position) => {
      const at = new Date(position.createdAt);
      // The redundant `created_at <= at` is the index condition: without it Postgres scans the
      // (created_at, id) index backwards from the newest row and filters every row newer than the cursor
      // (a page in the middle of 1M users took ~940 ms, the first page 2 ms). A row comparison cannot
      // serve here, because the ids compare under "C" and the index under the database's collation.
      return (
        and(
          lte(createdAt, at),
          or(lt(createdAt, at), and(eq(createdAt, at), sql`${byteOrder(id)} < ${position.id}`)),
        ) ?? sql`false`
      );
    },
    // One statement, so no transaction on the shared per-request client: every write but the last is a
    // data-modifying CTE, which Postgres runs whether or not the main statement reads it.
    appendChained: async ({ userId, ...entry }, outbox) => {
      const logged = chainedInsert(entry, sql`select ${userId}::text as user_id`);
      await db.execute(outbox ? sql`with logged as (${logged}) ${queuedFromLogged()}` : logged);
    },
    writeTogether: async (statements) => {
      const last = statements[statements.length - 1]!.getSQL();
      const ctes = statements.slice(0, -1).map((s, i) => sql`${sql.raw(`w${i}`)} as (${s.getSQL()})`);
      await db.execute(ctes.length === 0 ? last : sql`with ${sql.join(ctes, sql`, `)} ${last}`);
    },
  };
}

/** The StorageUnavailableError somewhere in an error's cause chain, if any. */
function findUnavailable(err: unknown): StorageUnavailableError | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof StorageUnavailableError) return e;
  }
  return null;
}

/**
 * drizzle wraps every driver error in a DrizzleQueryError ("Failed query: <sql>"), which would hide the
 * StorageUnavailableError from the error handler and turn an outage into a 500. Rethrow it unwrapped.
 */
function surfaceUnavailable<T extends object>(repository: T): T {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        try {
          return await value.apply(target, args);
        } catch (err) {
          throw findUnavailable(err) ?? err;
        }
      };
    },
  });
}

/**
 * Postgres behind the Database contract. One client per call (per request): `close()` ends it. Every
 * multi-row rule is one statement, except where READ COMMITTED snapshots make that unsound (deleting a
 * passkey): that one is a transaction run through LazyPgClient.exclusive(), never a bare BEGIN on the
 * shared client.
 */
export function openPostgres(connectionString: string, options: DatabaseOptions = {}): Database {
  const client = new LazyPgClient(connectionString, options.connectTimeoutMs, options.queryTimeoutMs);
  // drizzle only calls query() on its client; the lazy wrapper connects on the first one.
  const db = drizzle({ client: client as unknown as pg.Client });
  const dialect = pgDialect(db);
  const outbox = options.outbox ? new OutboxWriter(dialect, options.outbox) : null;
  const repositories = sqlRepositories(
    dialect,
    {
      sessions: new PgSessionRepository(dialect, db, outbox),
      twoFactor: new PgTwoFactorRepository(dialect, db),
      passkeys: new PgPasskeyRepository(dialect, client),
      accounts: new PgAccountRepository(dialect, client, outbox),
    },
    outbox,
  );
  return {
    kind: "postgres",
    users: surfaceUnavailable(repositories.users),
    sessions: surfaceUnavailable(repositories.sessions),
    tokens: surfaceUnavailable(repositories.tokens),
    audit: surfaceUnavailable(repositories.audit),
    oauthAccounts: surfaceUnavailable(repositories.oauthAccounts),
    twoFactor: surfaceUnavailable(repositories.twoFactor),
    counters: surfaceUnavailable(repositories.counters),
    loginThrottle: surfaceUnavailable(repositories.loginThrottle),
    passkeys: surfaceUnavailable(repositories.passkeys),
    passkeyChallenges: surfaceUnavailable(repositories.passkeyChallenges),
    accounts: surfaceUnavailable(repositories.accounts),
    webhooks: surfaceUnavailable(repositories.webhooks),
    async ping() {
      try {
        await db.execute(sql`select 1`);
      } catch (err) {
        const unavailable = findUnavailable(err);
        throw unavailable ?? new StorageUnavailableError("Postgres did not answer", { cause: err });
      }
    },
    close: () => client.end(),
  };
}
