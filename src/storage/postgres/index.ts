import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { StorageUnavailableError } from "../../errors";
import type { Database } from "../types";
import { PgCounterRepository, PgOAuthAccountRepository, PgTwoFactorRepository } from "./accounts";
import { PgAuditRepository } from "./audit";
import { LazyPgClient } from "./connection";
import { PgSessionRepository } from "./sessions";
import { PgTokenRepository } from "./tokens";
import { PgUserRepository } from "./users";

/**
 * Postgres behind the Database contract. One client per call (per request): `close()` ends it. No
 * statement here opens a transaction on the shared client; every multi-row rule is one statement.
 */
export function openPostgres(connectionString: string): Database {
  const client = new LazyPgClient(connectionString);
  // drizzle only calls query() on its client; the lazy wrapper connects on the first one.
  const db = drizzle({ client: client as unknown as pg.Client });
  return {
    kind: "postgres",
    users: new PgUserRepository(db),
    sessions: new PgSessionRepository(db),
    tokens: new PgTokenRepository(db),
    audit: new PgAuditRepository(db),
    oauthAccounts: new PgOAuthAccountRepository(db),
    twoFactor: new PgTwoFactorRepository(db),
    counters: new PgCounterRepository(db),
    async ping() {
      try {
        await db.execute(sql`select 1`);
      } catch (err) {
        if (err instanceof StorageUnavailableError) throw err;
        throw new StorageUnavailableError("Postgres did not answer", { cause: err });
      }
    },
    close: () => client.end(),
  };
}
