import { accountsContract } from "./accounts.contract";
import { auditContract } from "./audit.contract";
import { countersContract } from "./counters.contract";
import { ephemeralContract } from "./ephemeral.contract";
import type { DatabaseFactory, EphemeralFactory } from "./harness";
import { loginThrottleContract } from "./login-throttle.contract";
import { oauthAccountsContract } from "./oauth-accounts.contract";
import { passkeysContract } from "./passkeys.contract";
import { sessionsContract } from "./sessions.contract";
import { tokensContract } from "./tokens.contract";
import { twoFactorContract } from "./two-factor.contract";
import { usersContract } from "./users.contract";

/** Every storage contract against one relational store and one ephemeral store. */
export function storageContracts(database: DatabaseFactory, ephemeral: EphemeralFactory): void {
  usersContract(database);
  sessionsContract(database);
  tokensContract(database);
  auditContract(database);
  oauthAccountsContract(database);
  twoFactorContract(database);
  countersContract(database);
  loginThrottleContract(database);
  passkeysContract(database);
  accountsContract(database);
  ephemeralContract(ephemeral);
}
