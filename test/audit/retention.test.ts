import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { roleChangeSql } from "../../scripts/admin-sql";
import { applyRetention } from "../../src/audit/retention";
import { getConfig } from "../../src/config";
import worker from "../../src/index";
import { newId } from "../../src/lib/crypto";
import { auditEntries, database } from "../helpers";
import { seedAudit } from "../users/admin-helpers";

const DAY = 24 * 60 * 60 * 1000;

async function seedUser(db: ReturnType<typeof database>, now: Date): Promise<string> {
  const id = newId();
  await db.users.create({
    id,
    email: `ret-${id}@example.com`,
    fullName: null,
    passwordHash: null,
    role: "user",
    isVerified: true,
    now,
  });
  return id;
}

describe("retention", () => {
  it("deletes old audit entries, long-ended sessions, expired tokens and counters, and keeps the rest", async () => {
    const db = database();
    const config = getConfig(env);
    // An explicit clock; the data is placed around it.
    const now = new Date(Date.now() - 1000);
    const userId = await seedUser(db, new Date(now.getTime() - 500 * DAY));
    const retention = config.AUDIT_RETENTION_DAYS * DAY;
    const [old, fresh] = await seedAudit([
      { userId, action: "login_succeeded", at: new Date(now.getTime() - retention - 1) },
      { userId, action: "login_succeeded", at: new Date(now.getTime() - retention + 60_000) },
    ]);

    const session = (ended: number, revoked: boolean) => ({
      id: newId(),
      userId,
      refreshHash: newId(),
      expiresAt: new Date(now.getTime() - (revoked ? -DAY : ended)),
      ip: null,
      userAgent: null,
      now: new Date(now.getTime() - 40 * DAY),
    });
    const expiredLongAgo = await db.sessions.create(session(8 * DAY, false));
    const expiredRecently = await db.sessions.create(session(2 * DAY, false));
    const revokedLongAgo = await db.sessions.create(session(0, true));
    await db.sessions.revoke(revokedLongAgo.id, new Date(now.getTime() - 8 * DAY));
    const live = await db.sessions.create({ ...session(0, true), expiresAt: new Date(now.getTime() + DAY) });

    const expiredTokenHash = newId();
    const liveTokenHash = newId();
    const tokenExpiry = new Date(now.getTime() - 60_000);
    await db.tokens.create({
      tokenHash: expiredTokenHash,
      purpose: "password_reset",
      userId,
      expiresAt: tokenExpiry,
      now: new Date(now.getTime() - 3_600_000),
    });
    await db.tokens.create({
      tokenHash: liveTokenHash,
      purpose: "password_reset",
      userId,
      expiresAt: new Date(now.getTime() + 3_600_000),
      now,
    });
    const oldCounter = `test:ret:${newId()}`;
    const liveCounter = `test:ret:${newId()}`;
    await db.counters.increment(oldCounter, 60_000, new Date(now.getTime() - 120_000));
    await db.counters.increment(liveCounter, 3_600_000, now);

    const result = await applyRetention(db, config, now);

    expect(result.auditEntries).toBeGreaterThanOrEqual(1);
    expect(result.sessions).toBeGreaterThanOrEqual(2);
    expect(result.oneTimeTokens).toBeGreaterThanOrEqual(1);
    expect(result.counters).toBeGreaterThanOrEqual(1);
    const ids = (await auditEntries(userId)).map((e) => e.id);
    expect(ids).toContain(fresh!.id);
    expect(ids).not.toContain(old!.id);
    expect(await db.sessions.findById(expiredLongAgo.id)).toBeNull();
    expect(await db.sessions.findById(revokedLongAgo.id)).toBeNull();
    expect(await db.sessions.findById(expiredRecently.id)).not.toBeNull();
    expect(await db.sessions.findById(live.id)).not.toBeNull();
    // Read "as of" before expiry: only a deleted row is missing then.
    const before = new Date(tokenExpiry.getTime() - 1000);
    expect(await db.tokens.peek("password_reset", expiredTokenHash, before)).toBeNull();
    expect(await db.tokens.peek("password_reset", liveTokenHash, now)).not.toBeNull();
    expect(await db.counters.get(oldCounter, new Date(now.getTime() - 120_000))).toBeNull();
    expect(await db.counters.get(liveCounter, now)).not.toBeNull();
    await db.close();
  });

  it("honours AUDIT_RETENTION_DAYS", async () => {
    const db = database();
    const now = new Date(Date.now() - 1000);
    const userId = crypto.randomUUID();
    const [tenDays, fortyDays] = await seedAudit([
      { userId, action: "logout", at: new Date(now.getTime() - 10 * DAY) },
      { userId, action: "logout", at: new Date(now.getTime() - 40 * DAY) },
    ]);
    await applyRetention(db, getConfig({ ...env, AUDIT_RETENTION_DAYS: "30" }), now);
    expect((await auditEntries(userId)).map((e) => e.id)).toEqual([tenDays!.id]);
    expect(fortyDays).toBeDefined();
    await db.close();
  });

  it("runs from the Cron Trigger through the worker's scheduled handler, on the controller's clock", async () => {
    const scheduledTime = Date.now();
    const userId = crypto.randomUUID();
    const retention = getConfig(env).AUDIT_RETENTION_DAYS * DAY;
    const [old, recent] = await seedAudit([
      { userId, action: "login_failed", at: new Date(scheduledTime - retention - DAY) },
      { userId, action: "login_failed", at: new Date(scheduledTime - DAY) },
    ]);
    const controller = createScheduledController({ scheduledTime, cron: "17 3 * * *" });
    const ctx = createExecutionContext();

    await worker.scheduled(controller, env, ctx);
    await waitOnExecutionContext(ctx);

    const ids = (await auditEntries(userId)).map((e) => e.id);
    expect(ids).toEqual([recent!.id]);
    expect(ids).not.toContain(old!.id);
  });
});

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
