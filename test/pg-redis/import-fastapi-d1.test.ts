// `npm run import:fastapi -- --to local` writes into D1 through the same code as here: the Worker's real
// D1 binding stands in for wrangler's local one (scripts/import-fastapi.ts, d1Target). The source is the
// FastAPI schema in the test Postgres, which is why this file lives in the Postgres/Redis project.
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { d1Target, runImport } from "../../scripts/import-fastapi";
import { verifyAuditLog } from "../../src/audit/verify";
import { scryptHasher } from "../../src/auth/password";
import { getConfig } from "../../src/config";
import { openDatabase } from "../../src/storage";
import { testClient } from "../helpers";
import { createFastapiSource, type FastapiSource } from "../support/fastapi-source";
import { requireSetting } from "./settings";

const postgres = requireSetting(env as unknown as Record<string, unknown>, "DATABASE_URL");
// The app on D1 and KV: the same Worker environment without the Postgres/Redis URLs.
const d1Env: Record<string, unknown> = { ...env, DATABASE_URL: undefined, REDIS_URL: undefined };
let old: FastapiSource;

beforeAll(async () => {
  old = await createFastapiSource(postgres);
});
afterAll(() => old.drop());

function importIntoD1(batch: number) {
  return runImport(
    { from: old.url, to: "local", persistTo: undefined, batch },
    () => {},
    () => d1Target(env.DB),
  );
}

async function onD1<T>(fn: (db: ReturnType<typeof openDatabase>) => Promise<T>): Promise<T> {
  const db = openDatabase(getConfig(d1Env), d1Env as never);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

describe("npm run import:fastapi into D1", () => {
  it("imports users and chained logs in batches; a rerun changes nothing; they sign in on D1", async () => {
    const { base, email } = old;
    const first = await importIntoD1(2);
    expect(first.users).toEqual({ read: 4, inserted: 2, alreadyPresent: 0 });
    expect(first.skipped.map((s) => s.id)).toEqual([base + 3, base + 4]);
    expect(first.auditEntries).toEqual({ read: 4, inserted: 4, alreadyPresent: 0 });

    const alice = await onD1((db) => db.users.findById(String(base + 1)));
    expect(alice).toMatchObject({
      email: email("alice"),
      username: `alice${base}`,
      role: "admin",
      isActive: true,
      twoFactorEnabled: true,
    });
    // D1 keeps booleans as 0/1 and times as epoch ms: read back through the repository, they are the
    // same values the Postgres import stores.
    expect(alice!.createdAt).toBeInstanceOf(Date);
    expect(await onD1((db) => verifyAuditLog(db.audit))).toEqual({ ok: true, checked: 4 });

    const again = await importIntoD1(100);
    expect(again.users).toEqual({ read: 4, inserted: 0, alreadyPresent: 2 });
    expect(again.auditEntries).toEqual({ read: 4, inserted: 0, alreadyPresent: 4 });

    const client = testClient({ passwords: scryptHasher }, d1Env);
    const bob = await client.call("POST", "/auth/login", {
      form: { username: `bob${base}`, password: "old-password" },
    });
    expect(bob.status).toBe(200);
    const me = await client.call("GET", "/auth/me", { token: bob.body.access_token });
    expect(me.body).toMatchObject({ id: String(base + 2), email: email("Bob"), username: `Bob${base}` });
    const aliceLogin = await client.call("POST", "/auth/login", {
      json: { email: email("alice"), password: "old-password" },
    });
    expect(aliceLogin.body.mfa_required).toBe(true);
    // Bob's sign-in was chained after his imported entry, on D1 as on Postgres.
    expect(await onD1((db) => verifyAuditLog(db.audit, { userId: String(base + 2) }))).toMatchObject({
      ok: true,
    });
  });
});
