// The passkey storage contract on Postgres (test/storage/passkeys.d1.test.ts runs it on D1).
import { env } from "cloudflare:workers";
import { openPostgres } from "../../src/storage/postgres";
import type { DatabaseFactory } from "../storage/harness";
import { passkeysContract } from "../storage/passkeys.contract";
import { requireSetting } from "./settings";

const postgres: DatabaseFactory = { open: () => openPostgres(requireSetting(env, "DATABASE_URL")) };

passkeysContract(postgres);
