import type { Database } from "../types";
import type { SqlAccountRepository } from "./accounts";
import { SqlAuditRepository } from "./audit";
import { SqlCounterRepository } from "./counters";
import type { Dialect } from "./dialect";
import { SqlLoginThrottleRepository } from "./login-throttle";
import { SqlOAuthAccountRepository } from "./oauth-accounts";
import { type OutboxWriter, SqlWebhookOutboxRepository } from "./outbox";
import { SqlPasskeyChallengeRepository, type SqlPasskeyRepository } from "./passkeys";
import type { SqlSessionRepository } from "./sessions";
import { SqlTokenRepository } from "./tokens";
import type { SqlTwoFactorRepository } from "./two-factor";
import { SqlUserRepository } from "./users";

export type { Dialect, SqlDb, Tables } from "./dialect";
export { OutboxWriter } from "./outbox";
export { SqlPasskeyRepository } from "./passkeys";
export { SqlSessionRepository } from "./sessions";
export { SqlTwoFactorRepository } from "./two-factor";

/** The repositories of one relational store: shared ones over `dialect`, plus the dialect's atomic ones. */
export function sqlRepositories(
  dialect: Dialect,
  own: {
    sessions: SqlSessionRepository;
    twoFactor: SqlTwoFactorRepository;
    passkeys: SqlPasskeyRepository;
    accounts: SqlAccountRepository;
  },
  outbox: OutboxWriter | null,
): Omit<Database, "kind" | "ping" | "close"> {
  return {
    users: new SqlUserRepository(dialect),
    sessions: own.sessions,
    tokens: new SqlTokenRepository(dialect),
    audit: new SqlAuditRepository(dialect, outbox),
    oauthAccounts: new SqlOAuthAccountRepository(dialect),
    twoFactor: own.twoFactor,
    counters: new SqlCounterRepository(dialect),
    loginThrottle: new SqlLoginThrottleRepository(dialect),
    passkeys: own.passkeys,
    passkeyChallenges: new SqlPasskeyChallengeRepository(dialect),
    accounts: own.accounts,
    webhooks: new SqlWebhookOutboxRepository(dialect),
  };
}
