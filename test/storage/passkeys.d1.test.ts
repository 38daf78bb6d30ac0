// The passkey storage contract on D1; test/pg-redis/passkeys-contract.test.ts runs it on Postgres.
import { env } from "cloudflare:workers";
import { openD1 } from "../../src/storage/d1";
import type { DatabaseFactory } from "./harness";
import { passkeysContract } from "./passkeys.contract";

const d1: DatabaseFactory = { open: () => openD1(env.DB) };

passkeysContract(d1);
