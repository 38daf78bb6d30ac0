// `npm run import:fastapi` against a real Postgres holding the FastAPI schema (in its own schema of the
// test database), importing into this service's Postgres; then the imported accounts sign in over HTTP.
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Report, runImport } from "../../scripts/import-fastapi";
import { verifyAuditLog } from "../../src/audit/verify";
import { scryptHasher } from "../../src/auth/password";
import { auditEntries, database, testClient } from "../helpers";
import { createFastapiSource, type FastapiSource } from "../support/fastapi-source";
import { rawSql } from "../support/raw-sql";
import { requireSetting } from "./settings";

const target = requireSetting(env as unknown as Record<string, unknown>, "DATABASE_URL");
let old: FastapiSource;

beforeAll(async () => {
  old = await createFastapiSource(target);
});
afterAll(() => old.drop());

async function verifyAll() {
  const db = database();
  try {
    return await verifyAuditLog(db.audit);
  } finally {
    await db.close();
  }
}

describe("npm run import:fastapi into Postgres", () => {
  // One test: the pg-redis setup empties the tables after each test.
  it("imports users and logs, reports skipped rows and why; a rerun changes nothing; they sign in", async () => {
    const { base, email } = old;
    const first: Report = await runImport(
      { from: old.url, to: target, persistTo: undefined, batch: 2 },
      () => {},
    );
    expect(first.users).toEqual({ read: 4, inserted: 2, alreadyPresent: 0 });
    expect(first.skipped).toEqual([
      { id: base + 3, reason: "duplicate email (case-insensitive)" },
      { id: base + 4, reason: "malformed password hash" },
    ]);
    expect(first.auditEntries).toEqual({ read: 4, inserted: 4, alreadyPresent: 0 });
    const db = database();
    try {
      const alice = await db.users.findById(String(base + 1));
      expect(alice).toMatchObject({
        email: email("alice"),
        username: `alice${base}`,
        role: "admin",
        twoFactorEnabled: true,
      });
    } finally {
      await db.close();
    }
    const entries = await auditEntries(String(base + 1));
    expect(entries.map((e) => e.action).sort()).toEqual(["login_succeeded", "register"]);
    expect(entries[0]!.metadata.imported).toBe(true);
    // The imported entries are links of their users' hash chains (and the no-user chain).
    expect(entries.map((e) => e.seq).sort()).toEqual([1, 2]);
    expect(await verifyAll()).toEqual({ ok: true, checked: 4 });

    const again = await runImport({ from: old.url, to: target, persistTo: undefined, batch: 100 }, () => {});
    expect(again.users).toEqual({ read: 4, inserted: 0, alreadyPresent: 2 });
    expect(again.auditEntries).toEqual({ read: 4, inserted: 0, alreadyPresent: 4 });

    const client = testClient({ passwords: scryptHasher });
    const bob = await client.call("POST", "/auth/login", {
      form: { username: `bob${base}`, password: "old-password" },
    });
    expect(bob.status).toBe(200);
    expect(bob.body.token_type).toBe("bearer");
    const alice = await client.call("POST", "/auth/login", {
      json: { email: email("alice"), password: "old-password" },
    });
    expect(alice.status).toBe(200);
    expect(alice.body.mfa_required).toBe(true);

    // Logs written by the old service after the first import join the chains after the new service's
    // own entries; the chains still verify.
    await old.sql("insert into activity_logs(user_id,action,timestamp) values ($1,'logout',now())", [
      base + 2,
    ]);
    const late = await runImport({ from: old.url, to: target, persistTo: undefined, batch: 100 }, () => {});
    expect(late.auditEntries).toEqual({ read: 5, inserted: 1, alreadyPresent: 4 });
    const verified = await verifyAll();
    expect(verified.ok).toBe(true);
    expect(verified.checked).toBeGreaterThan(5);

    // And an imported row edited in the database afterwards is found.
    const tampered = (await auditEntries(String(base + 2))).find((e) => e.action === "2fa_enabled")!;
    await rawSql("update audit_log set action = 'login_succeeded' where id = ?", [tampered.id]);
    expect(await verifyAll()).toMatchObject({ ok: false, firstBadId: tampered.id });
  });

  it("an unreachable source or a missing table is one clear error", async () => {
    await expect(
      runImport(
        { from: "postgres://postgres@127.0.0.1:1/none", to: target, persistTo: undefined, batch: 10 },
        () => {},
      ),
    ).rejects.toThrow(/cannot reach the FastAPI database/);
    await expect(
      runImport({ from: target, to: target, persistTo: undefined, batch: 10 }, () => {}),
    ).rejects.toThrow(/not the FastAPI schema/);
  });
});
