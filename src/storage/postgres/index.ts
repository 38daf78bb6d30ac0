import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { StorageUnavailableError } from "../../errors";
import { SqlPasskeyChallengeRepository, SqlPasskeyRepository } from "../sql/passkeys";
import type { Database, DatabaseOptions } from "../types";
import { PgCounterRepository, PgOAuthAccountRepository, PgTwoFactorRepository } from "./accounts";
import { PgAuditRepository } from "./audit";
import { LazyPgClient } from "./connection";
import * as tables from "./schema";
import { PgSessionRepository } from "./sessions";
import { PgTokenRepository } from "./tokens";
import { PgUserRepository } from "./users";

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
 * Postgres behind the Database contract. One client per call (per request): `close()` ends it. No
 * statement here opens a transaction on the shared client; every multi-row rule is one statement.
 */
export function openPostgres(connectionString: string, options: DatabaseOptions = {}): Database {
  const client = new LazyPgClient(connectionString, undefined, options.queryTimeoutMs);
  // drizzle only calls query() on its client; the lazy wrapper connects on the first one.
  const db = drizzle({ client: client as unknown as pg.Client });
  return {
    kind: "postgres",
    users: surfaceUnavailable(new PgUserRepository(db)),
    sessions: surfaceUnavailable(new PgSessionRepository(db)),
    tokens: surfaceUnavailable(new PgTokenRepository(db)),
    audit: surfaceUnavailable(new PgAuditRepository(db)),
    oauthAccounts: surfaceUnavailable(new PgOAuthAccountRepository(db)),
    twoFactor: surfaceUnavailable(new PgTwoFactorRepository(db)),
    counters: surfaceUnavailable(new PgCounterRepository(db)),
    passkeys: surfaceUnavailable(new SqlPasskeyRepository(db, tables)),
    passkeyChallenges: surfaceUnavailable(new SqlPasskeyChallengeRepository(db, tables)),
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
