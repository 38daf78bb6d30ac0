import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
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
    try {
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
      const live = await db.sessions.create({
        ...session(0, true),
        expiresAt: new Date(now.getTime() + DAY),
      });

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
      // A hit "as of" inside the old window starts from nothing only if the row was deleted.
      expect((await db.counters.increment(oldCounter, 60_000, new Date(now.getTime() - 120_000))).count).toBe(
        1,
      );
      expect(await db.counters.increment(liveCounter, 3_600_000, now)).toEqual({
        count: 2,
        resetAt: new Date(now.getTime() + 3_600_000),
      });
    } finally {
      await db.close();
    }
  });

  it("honours AUDIT_RETENTION_DAYS", async () => {
    const db = database();
    const now = new Date(Date.now() - 1000);
    const userId = crypto.randomUUID();
    const [tenDays, fortyDays] = await seedAudit([
      { userId, action: "logout", at: new Date(now.getTime() - 10 * DAY) },
      { userId, action: "logout", at: new Date(now.getTime() - 40 * DAY) },
    ]);
    try {
      // The default keeps both (it is longer than 40 days), so the setting is what removes one.
      expect(getConfig(env).AUDIT_RETENTION_DAYS).toBeGreaterThan(40);
      await applyRetention(db, getConfig(env), now);
      expect((await auditEntries(userId)).map((e) => e.id)).toEqual([tenDays!.id, fortyDays!.id]);
      await applyRetention(db, getConfig({ ...env, AUDIT_RETENTION_DAYS: "30" }), now);
      expect((await auditEntries(userId)).map((e) => e.id)).toEqual([tenDays!.id]);
    } finally {
      await db.close();
    }
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
