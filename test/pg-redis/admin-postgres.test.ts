// Postgres only: `npm run admin -- promote|demote` with DATABASE_URL runs POSTGRES_SQL.roleChange.
import { env } from "cloudflare:workers";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { POSTGRES_SQL, roleChangeEntry } from "../../scripts/admin-sql";
import { chainAfter, laterTail } from "../../src/audit/chain";
import { verifyAuditLog } from "../../src/audit/verify";
import { auditActions, createVerifiedUser, database, testClient } from "../helpers";
import { requireSetting } from "./settings";

const postgresUrl = requireSetting(env, "DATABASE_URL");

async function onPostgres<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

describe("npm run admin -- promote|demote on Postgres", () => {
  it("changes the role in one statement and records the audit entry only when it changes", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    // What scripts/admin.mjs does: read the account and its audit chain's tail, then the chained change.
    const promote = (email: string) =>
      onPostgres(async (c) => {
        const [account] = (await c.query(POSTGRES_SQL.roleTarget, [email.toLowerCase()])).rows;
        const id = account?.id ?? crypto.randomUUID();
        const tail = laterTail(
          account?.log_seq == null ? null : { seq: account.log_seq, hash: account.log_hash },
          account?.anchor_seq == null ? null : { seq: account.anchor_seq, hash: account.anchor_hash },
        );
        const auditId = crypto.randomUUID();
        const entry = roleChangeEntry("promote", id, Date.now(), auditId);
        const link = chainAfter(tail, entry);
        const args = [
          email.toLowerCase(),
          "admin",
          entry.createdAt,
          auditId,
          entry.action,
          JSON.stringify(entry.metadata),
          id,
          link.seq,
          link.prevHash,
          link.hash,
        ];
        return (await c.query(POSTGRES_SQL.roleChange, args)).rows;
      });
    expect(await promote(user.email)).toEqual([expect.objectContaining({ id: user.id, role: "admin" })]);
    // Again: nothing changes, no second audit entry, the current role is still reported.
    expect(await promote(user.email)).toEqual([expect.objectContaining({ role: "admin" })]);
    expect((await auditActions(user.id)).filter((a) => a === "role_promoted")).toHaveLength(1);
    const me = await client.call("GET", "/auth/me", { token: user.tokens.access_token });
    expect(me.body.role).toBe("admin");
    // An unknown email: no row, so the script says "No user".
    const missing = await promote("nobody@example.com");
    expect(missing).toEqual([]);
    // The entry is a link of the user's hash chain (after register, email_verified, login_succeeded).
    const db = database();
    try {
      expect(await verifyAuditLog(db.audit, { userId: user.id })).toEqual({ ok: true, checked: 4 });
    } finally {
      await db.close();
    }
  });
});
