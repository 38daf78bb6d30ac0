import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { StorageUnavailableError } from "../../errors";
import {
  type PasskeyTables,
  type SqlDb,
  SqlPasskeyChallengeRepository,
  SqlPasskeyRepository,
} from "../sql/passkeys";
import type { Database } from "../types";
import { D1CounterRepository, D1OAuthAccountRepository, D1TwoFactorRepository } from "./accounts";
import { D1AuditRepository } from "./audit";
import * as tables from "./schema";
import { D1SessionRepository } from "./sessions";
import { D1TokenRepository } from "./tokens";
import { D1UserRepository } from "./users";

export function openD1(binding: D1Database): Database {
  const db = drizzle(binding);
  // The shared passkey repositories run on D1's builder and tables (see src/storage/sql/passkeys.ts).
  const shared = db as unknown as SqlDb;
  const t = tables as unknown as PasskeyTables;
  return {
    kind: "d1",
    users: new D1UserRepository(db),
    sessions: new D1SessionRepository(db),
    tokens: new D1TokenRepository(db),
    audit: new D1AuditRepository(db),
    oauthAccounts: new D1OAuthAccountRepository(db),
    twoFactor: new D1TwoFactorRepository(db),
    counters: new D1CounterRepository(db),
    passkeys: new SqlPasskeyRepository(shared, t),
    passkeyChallenges: new SqlPasskeyChallengeRepository(shared, t),
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
