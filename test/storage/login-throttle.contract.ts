import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database, ThrottlePolicy } from "../../src/storage/types";
import { at, createUser, type DatabaseFactory, plus, race, tag, withHandles } from "./harness";

const T0 = at("2026-11-25T08:00:00.000Z");
const DAY = 86_400_000;
const POLICY: ThrottlePolicy = { windowMs: DAY, threshold: 3, locksMs: [60_000, 120_000, 300_000] };

/** The login throttle's counting statement, and the session reads that authenticate and reauthenticate use. */
export function loginThrottleContract(factory: DatabaseFactory): void {
  describe("login throttle", () => {
    let db: Database;
    beforeEach(() => {
      db = factory.open();
    });
    afterEach(async () => {
      await db.close();
    });

    it("admits up to the threshold, locks on the attempt that reaches it, and grows the lock", async () => {
      const key = `t-${tag()}`;
      expect(await db.loginThrottle.admit(key, POLICY, T0)).toEqual({
        admitted: true,
        attempts: 1,
        lockedUntil: null,
      });
      expect(await db.loginThrottle.admit(key, POLICY, T0)).toEqual({
        admitted: true,
        attempts: 2,
        lockedUntil: null,
      });
      expect(await db.loginThrottle.admit(key, POLICY, T0)).toEqual({
        admitted: true,
        attempts: 3,
        lockedUntil: plus(T0, 60_000),
      });
      expect(await db.loginThrottle.admit(key, POLICY, plus(T0, 59_999))).toEqual({
        admitted: false,
        lockedUntil: plus(T0, 60_000),
      });
      // At the lock's end one more attempt passes and sets the next, longer lock; the last one repeats.
      const t1 = plus(T0, 60_000);
      expect(await db.loginThrottle.admit(key, POLICY, t1)).toEqual({
        admitted: true,
        attempts: 4,
        lockedUntil: plus(t1, 120_000),
      });
      const t2 = plus(t1, 120_000);
      expect((await db.loginThrottle.admit(key, POLICY, t2)).admitted).toBe(true);
      const t3 = plus(t2, 300_000);
      expect(await db.loginThrottle.admit(key, POLICY, t3)).toEqual({
        admitted: true,
        attempts: 6,
        lockedUntil: plus(t3, 300_000),
      });
    });

    it("admits at most `threshold` of 20 concurrent attempts", async () => {
      const key = `t-${tag()}`;
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 20, (h) => h.loginThrottle.admit(key, POLICY, T0)),
      );
      expect(results.filter((r) => r.admitted)).toHaveLength(3);
      for (const r of results.filter((r) => !r.admitted)) expect(r.lockedUntil).toEqual(plus(T0, 60_000));
    });

    it("starts over after the window or a clear, and retention drops only ended rows", async () => {
      const [a, b, c] = [`t-${tag()}`, `t-${tag()}`, `t-${tag()}`];
      await db.loginThrottle.admit(a, POLICY, T0);
      await db.loginThrottle.admit(a, POLICY, T0);
      // The window ends a day after its first attempt: the count starts over.
      expect(await db.loginThrottle.admit(a, POLICY, plus(T0, DAY))).toMatchObject({ attempts: 1 });
      expect(await db.loginThrottle.admit(a, POLICY, plus(T0, DAY + 1))).toMatchObject({ attempts: 2 });

      for (let i = 0; i < 3; i++) await db.loginThrottle.admit(b, POLICY, T0);
      expect((await db.loginThrottle.admit(b, POLICY, T0)).admitted).toBe(false);
      await db.loginThrottle.clear(b);
      expect(await db.loginThrottle.admit(b, POLICY, T0)).toEqual({
        admitted: true,
        attempts: 1,
        lockedUntil: null,
      });

      await db.loginThrottle.admit(c, POLICY, plus(T0, -2 * DAY));
      expect(await db.loginThrottle.deleteExpiredBefore(plus(T0, -DAY / 2), 1_000)).toBeGreaterThanOrEqual(1);
      // c is gone (a fresh count), b is not (its window is still open).
      expect(await db.loginThrottle.admit(c, POLICY, T0)).toMatchObject({ attempts: 1 });
      expect(await db.loginThrottle.admit(b, POLICY, T0)).toMatchObject({ attempts: 2 });
    });

    it("reads a session with its account in one call, and records reauthentication on live sessions only", async () => {
      const user = await createUser(db);
      const session = await db.sessions.create({
        id: crypto.randomUUID(),
        userId: user.id,
        refreshHash: `h-${tag()}`,
        expiresAt: plus(T0, DAY),
        ip: null,
        userAgent: null,
        now: T0,
      });
      expect(session.authenticatedAt).toEqual(T0);
      const found = await db.users.findBySession(session.id);
      expect(found?.user).toEqual(user);
      expect(found?.session).toMatchObject({ id: session.id, revokedAt: null, authenticatedAt: T0 });
      expect(await db.users.findBySession(crypto.randomUUID())).toBeNull();

      expect(await db.sessions.markAuthenticated(session.id, plus(T0, 1000))).toBe(true);
      expect((await db.users.findBySession(session.id))?.session.authenticatedAt).toEqual(plus(T0, 1000));
      // A refresh does not move it.
      await db.sessions.rotate(session.currentHash, `n-${tag()}`, plus(T0, 2000), 10_000);
      expect((await db.users.findBySession(session.id))?.session.authenticatedAt).toEqual(plus(T0, 1000));

      expect(await db.sessions.markAuthenticated(session.id, plus(T0, DAY))).toBe(false);
      await db.sessions.revoke(session.id, plus(T0, 3000));
      expect(await db.sessions.markAuthenticated(session.id, plus(T0, 4000))).toBe(false);
      expect((await db.users.findBySession(session.id))?.session.revokedAt).toEqual(plus(T0, 3000));
    });
  });
}
