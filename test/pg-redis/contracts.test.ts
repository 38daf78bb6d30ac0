// The storage contracts against Postgres and Redis (the pg-redis vitest project only).
import { env } from "cloudflare:workers";
import { openPostgres } from "../../src/storage/postgres";
import { openRedis } from "../../src/storage/redis";
import { oauthAccountsContract } from "../storage/accounts.contract";
import { auditContract } from "../storage/audit.contract";
import { countersContract } from "../storage/counters.contract";
import { ephemeralContract } from "../storage/ephemeral.contract";
import type { DatabaseFactory, EphemeralFactory } from "../storage/harness";
import { loginThrottleContract } from "../storage/login-throttle.contract";
import { sessionsContract } from "../storage/sessions.contract";
import { tokensContract } from "../storage/tokens.contract";
import { twoFactorContract } from "../storage/two-factor.contract";
import { usersContract } from "../storage/users.contract";
import { requireSetting } from "./settings";

const postgres: DatabaseFactory = { open: () => openPostgres(requireSetting(env, "DATABASE_URL")) };
const redis: EphemeralFactory = { open: () => openRedis(requireSetting(env, "REDIS_URL")) };

usersContract(postgres);
sessionsContract(postgres);
tokensContract(postgres);
auditContract(postgres);
oauthAccountsContract(postgres);
twoFactorContract(postgres);
countersContract(postgres);
loginThrottleContract(postgres);
ephemeralContract(redis);
