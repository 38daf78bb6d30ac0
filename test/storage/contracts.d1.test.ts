// The storage contracts against the default backends (D1 + KV). D1-only (*.d1.test.ts): the pg-redis
// project runs the same suites against Postgres and Redis in test/pg-redis/contracts.test.ts.
import { env } from "cloudflare:workers";
import { openD1 } from "../../src/storage/d1";
import { openKv } from "../../src/storage/kv";
import { oauthAccountsContract } from "./accounts.contract";
import { auditContract } from "./audit.contract";
import { countersContract } from "./counters.contract";
import { ephemeralContract } from "./ephemeral.contract";
import type { DatabaseFactory, EphemeralFactory } from "./harness";
import { loginThrottleContract } from "./login-throttle.contract";
import { sessionsContract } from "./sessions.contract";
import { tokensContract } from "./tokens.contract";
import { twoFactorContract } from "./two-factor.contract";
import { usersContract } from "./users.contract";

const d1: DatabaseFactory = { open: () => openD1(env.DB) };
const kv: EphemeralFactory = { open: () => openKv(env.KV) };

usersContract(d1);
sessionsContract(d1);
tokensContract(d1);
auditContract(d1);
oauthAccountsContract(d1);
twoFactorContract(d1);
countersContract(d1);
loginThrottleContract(d1);
ephemeralContract(kv);
