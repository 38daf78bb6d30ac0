import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { roleChangeSql } from "../../scripts/admin-sql";
import { newId } from "../../src/lib/crypto";
import { auditEntries, database } from "../helpers";

// D1 only (*.d1.test.ts): this is the SQL `npm run admin` hands to `wrangler d1 execute`.
describe("npm run admin (SQL it hands to wrangler d1 execute)", () => {
  const id = "0193a6c0-0000-7000-8000-000000000000";

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
      expect(() => roleChangeSql("promote", bad, 1, id), bad).toThrow(/valid email/);
    }
  });

  it("quotes apostrophes so they cannot end the literal, and matches the lower-cased email", async () => {
    const sql = roleChangeSql("promote", "O'Brien@Example.com", 1_700_000_000_000, id);
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
    const statements = roleChangeSql("promote", email, Date.now(), crypto.randomUUID())
      .split(/;\s*(?=UPDATE)/)
      .map((s) => env.DB.prepare(s));
    await env.DB.batch(statements);
    expect((await db.users.findById(userId))?.role).toBe("admin");
    expect((await auditEntries(userId)).map((e) => [e.action, e.metadata])).toEqual([
      ["role_promoted", { reason: "cli" }],
    ]);
    const demote = roleChangeSql("demote", email, Date.now(), crypto.randomUUID()).split(/;\s*(?=UPDATE)/);
    await env.DB.batch(demote.map((s) => env.DB.prepare(s)));
    expect((await db.users.findById(userId))?.role).toBe("user");
    await db.close();
  });
});
