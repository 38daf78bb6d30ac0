import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type AdminCommand, roleChangeEntry, roleChangeSql, roleTargetSql } from "../../scripts/admin-sql";
import { chainAfter, GENESIS_HASH, laterTail } from "../../src/audit/chain";
import { verifyAuditLog } from "../../src/audit/verify";
import { newId } from "../../src/lib/crypto";
import { auditEntries, database } from "../helpers";

// D1 only (*.d1.test.ts): this is the SQL `npm run admin` hands to `wrangler d1 execute`.
describe("npm run admin (SQL it hands to wrangler d1 execute)", () => {
  const id = "0193a6c0-0000-7000-8000-000000000000";
  const link = { seq: 1, prevHash: GENESIS_HASH, hash: GENESIS_HASH };

  /** What scripts/admin.mjs does: read the account and its chain's tail, then the chained change. */
  async function runCli(command: AdminCommand, email: string): Promise<void> {
    const account = await env.DB.prepare(roleTargetSql(email)).first<{
      id: string;
      log_seq: number | null;
      log_hash: string;
      anchor_seq: number | null;
      anchor_hash: string;
    }>();
    if (!account) throw new Error("no account");
    const tail = laterTail(
      account.log_seq === null ? null : { seq: account.log_seq, hash: account.log_hash },
      account.anchor_seq === null ? null : { seq: account.anchor_seq, hash: account.anchor_hash },
    );
    const now = Date.now();
    const auditId = crypto.randomUUID();
    const chained = chainAfter(tail, roleChangeEntry(command, account.id, now, auditId));
    const statements = roleChangeSql(command, email, account.id, now, auditId, chained).split(
      /;\s*(?=UPDATE)/,
    );
    await env.DB.batch(statements.map((s) => env.DB.prepare(s)));
  }

  it("refuses anything but a plain email address", () => {
    for (const bad of [
      "x'; DROP TABLE users;--@example.com",
      'a"b@example.com',
      "a\\b@example.com",
      "a b@example.com",
      "a@example.com; --",
      "a@b",
      "@example.com",
      "a@@example.com",
      `${"a".repeat(65)}@example.com`,
    ]) {
      expect(() => roleChangeSql("promote", bad, id, 1, id, link), bad).toThrow(/valid email/);
      expect(() => roleTargetSql(bad), bad).toThrow(/valid email/);
    }
  });

  it("quotes apostrophes so they cannot end the literal, and matches the lower-cased email", async () => {
    const sql = roleChangeSql("promote", "O'Brien@Example.com", id, 1_700_000_000_000, id, link);
    expect(sql).toContain("email_lower = 'o''brien@example.com'");
    expect(sql).toContain("UPDATE users SET role = 'admin', updated_at = 1700000000000");
    // Run it for real against D1 (what wrangler does with --command).
    const db = database();
    const userId = newId();
    const email = `o'brien.${userId}@example.com`;
    await db.users.create({
      id: userId,
      email,
      fullName: null,
      passwordHash: null,
      role: "user",
      isVerified: true,
      now: new Date(),
    });
    await runCli("promote", email);
    expect((await db.users.findById(userId))?.role).toBe("admin");
    expect((await auditEntries(userId)).map((e) => [e.action, e.metadata])).toEqual([
      ["role_promoted", { reason: "cli" }],
    ]);
    await runCli("demote", email);
    expect((await db.users.findById(userId))?.role).toBe("user");
    // Both entries are links of the user's hash chain.
    expect(await verifyAuditLog(db.audit, { userId })).toEqual({ ok: true, checked: 2 });
    await db.close();
  });
});
