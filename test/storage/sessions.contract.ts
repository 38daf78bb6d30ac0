import { beforeEach, describe, expect, it } from "vitest";
import type { Session, User } from "../../src/storage/types";
import { firstLink } from "./audit.contract";
import { at, createUser, type DatabaseFactory, plus, race, tag, useDatabase, withHandles } from "./harness";

const GRACE_MS = 10_000;
const T0 = at("2026-11-25T08:00:00.000Z");
const DAY = 86_400_000;

export function sessionsContract(factory: DatabaseFactory): void {
  describe("sessions", () => {
    const db = useDatabase(factory);
    let user: User;
    beforeEach(async () => {
      user = await createUser(db());
    });

    const open = (overrides: Partial<{ now: Date; expiresAt: Date; hash: string }> = {}): Promise<Session> =>
      db().sessions.create({
        id: crypto.randomUUID(),
        userId: user.id,
        refreshHash: overrides.hash ?? `h-${tag()}-${tag()}`,
        expiresAt: overrides.expiresAt ?? plus(T0, 30 * DAY),
        ip: "203.0.113.7",
        userAgent: "vitest",
        now: overrides.now ?? T0,
      });

    const entry = () => ({
      id: crypto.randomUUID(),
      action: "token_refreshed",
      ip: null,
      userAgent: null,
      createdAt: T0,
      metadata: {},
    });

    it("creates a session and finds it", async () => {
      const s = await open();
      expect(s).toMatchObject({ userId: user.id, previousHash: null, rotatedAt: null, revokedAt: null });
      expect(await db().sessions.findById(s.id)).toEqual(s);
      expect(await db().sessions.findById(crypto.randomUUID())).toBeNull();
    });

    it("writes the sign-in's audit entry with the session, and neither when the session fails", async () => {
      const entry = (id: string) => ({
        id,
        userId: user.id,
        action: "login_succeeded",
        ip: "203.0.113.7",
        userAgent: "vitest",
        createdAt: T0,
        metadata: { method: "password" },
      });
      const session = {
        id: crypto.randomUUID(),
        userId: user.id,
        refreshHash: `h-${tag()}-${tag()}`,
        expiresAt: plus(T0, 30 * DAY),
        ip: "203.0.113.7",
        userAgent: "vitest",
        now: T0,
      };
      const logged = crypto.randomUUID();
      const s = await db().sessions.create(session, entry(logged));
      expect(await db().sessions.findById(s.id)).toEqual(s);
      const page = await db().audit.list({ limit: 10, userId: user.id });
      expect(page.items).toEqual([{ ...entry(logged), ...firstLink(user.id) }]);
      // The session's refresh token is recorded too: it rotates.
      expect((await db().sessions.rotate(s.currentHash, `n-${tag()}`, plus(T0, 1000), GRACE_MS)).kind).toBe(
        "rotated",
      );

      // A second session with the same id fails as a whole: its audit entry is not written either.
      await expect(
        db().sessions.create({ ...session, refreshHash: `h-${tag()}` }, entry(crypto.randomUUID())),
      ).rejects.toThrow();
      expect((await db().audit.list({ limit: 10, userId: user.id })).items).toEqual([
        { ...entry(logged), ...firstLink(user.id) },
      ]);
    });

    it("rotates exactly once among 20 concurrent refreshes; the rest get the grace answer", async () => {
      const s = await open();
      const now = plus(T0, 60_000);
      // Every caller brings its own audit entry; only the winner's is written, with the session's user.
      const audit = (i: number) => ({
        id: `rotation-${i}-${tag()}`,
        action: "token_refreshed",
        ip: "203.0.113.7",
        userAgent: "vitest",
        createdAt: now,
        metadata: { grace: false },
      });
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 20, (h, i) =>
          h.sessions.rotate(s.currentHash, `next-${i}-${tag()}`, now, GRACE_MS, audit(i)),
        ),
      );
      const kinds = results.map((r) => r.kind);
      expect(kinds.filter((k) => k === "rotated")).toHaveLength(1);
      expect(kinds.filter((k) => k === "grace")).toHaveLength(19);

      const winner = results.find((r) => r.kind === "rotated");
      const current = await db().sessions.findById(s.id);
      expect(winner?.kind === "rotated" && winner.session.currentHash).toBe(current?.currentHash);
      expect(current).toMatchObject({ previousHash: s.currentHash });
      expect(current?.rotatedAt?.toISOString()).toBe(now.toISOString());
      const logged = (await db().audit.list({ limit: 50, userId: user.id })).items;
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        userId: user.id,
        action: "token_refreshed",
        ip: "203.0.113.7",
        userAgent: "vitest",
        metadata: { grace: false },
      });
      expect(logged[0]?.createdAt.toISOString()).toBe(now.toISOString());
      // The new hash was recorded, so it can rotate in turn.
      expect((await db().sessions.rotate(current!.currentHash, `n-${tag()}`, now, GRACE_MS)).kind).toBe(
        "rotated",
      );
    });

    it("reports an older token, or the previous one after the grace window, as reuse", async () => {
      const s = await open();
      const h1 = `h1-${tag()}`;
      const h2 = `h2-${tag()}`;
      expect((await db().sessions.rotate(s.currentHash, h1, plus(T0, 1_000), GRACE_MS, entry())).kind).toBe(
        "rotated",
      );
      const inGrace = await db().sessions.rotate(
        s.currentHash,
        `x-${tag()}`,
        plus(T0, 1_000 + GRACE_MS),
        GRACE_MS,
        entry(),
      );
      expect(inGrace.kind).toBe("grace");
      const late = await db().sessions.rotate(
        s.currentHash,
        `x-${tag()}`,
        plus(T0, 2_000 + GRACE_MS),
        GRACE_MS,
        entry(),
      );
      expect(late.kind).toBe("reused");

      expect((await db().sessions.rotate(h1, h2, plus(T0, 60_000), GRACE_MS, entry())).kind).toBe("rotated");
      const older = await db().sessions.rotate(
        s.currentHash,
        `y-${tag()}`,
        plus(T0, 60_001),
        GRACE_MS,
        entry(),
      );
      expect(older.kind).toBe("reused");
      expect(older.kind === "reused" && older.session.id).toBe(s.id);
      // Reuse decides nothing by itself: the caller revokes; the current token still works until then.
      expect((await db().sessions.findById(s.id))?.currentHash).toBe(h2);
      // Only the two rotations wrote their audit entry; grace and reuse answers wrote none.
      expect((await db().audit.list({ limit: 50, userId: user.id })).items).toHaveLength(2);
    });

    it("finds a session by any refresh-token hash it issued", async () => {
      const s = await open();
      const next = `n-${tag()}`;
      expect(await db().sessions.findByRefreshHash(s.currentHash)).toEqual(s);
      expect((await db().sessions.rotate(s.currentHash, next, plus(T0, 1_000), GRACE_MS)).kind).toBe(
        "rotated",
      );
      expect((await db().sessions.findByRefreshHash(next))?.id).toBe(s.id);
      expect((await db().sessions.findByRefreshHash(s.currentHash))?.currentHash).toBe(next);
      await db().sessions.revoke(s.id, plus(T0, 2_000));
      expect((await db().sessions.findByRefreshHash(next))?.revokedAt?.toISOString()).toBe(
        plus(T0, 2_000).toISOString(),
      );
      expect(await db().sessions.findByRefreshHash(`nope-${tag()}`)).toBeNull();
    });

    it("answers invalid for unknown, revoked and expired sessions", async () => {
      expect((await db().sessions.rotate(`nope-${tag()}`, `n-${tag()}`, T0, GRACE_MS, entry())).kind).toBe(
        "invalid",
      );

      const revoked = await open();
      expect(await db().sessions.revoke(revoked.id, plus(T0, 1))).toBe(true);
      expect(await db().sessions.revoke(revoked.id, plus(T0, 2))).toBe(false);
      expect(
        (await db().sessions.rotate(revoked.currentHash, `n-${tag()}`, plus(T0, 3), GRACE_MS, entry())).kind,
      ).toBe("invalid");

      const expired = await open({ expiresAt: plus(T0, 1_000) });
      expect(
        (await db().sessions.rotate(expired.currentHash, `n-${tag()}`, plus(T0, 1_000), GRACE_MS, entry()))
          .kind,
      ).toBe("invalid");
      expect(await db().sessions.revoke(crypto.randomUUID(), T0)).toBe(false);
      expect((await db().audit.list({ limit: 50, userId: user.id })).items).toEqual([]);
    });

    it("lists live sessions newest first and revokes all but one", async () => {
      const a = await open({ now: T0 });
      const b = await open({ now: plus(T0, 1_000) });
      const c = await open({ now: plus(T0, 2_000) });
      await open({ now: plus(T0, 3_000), expiresAt: plus(T0, 4_000) });
      const now = plus(T0, 5_000);
      expect((await db().sessions.listActive(user.id, now)).map((s) => s.id)).toEqual([c.id, b.id, a.id]);

      const revoked = await db().sessions.revokeAllForUser(user.id, now, b.id);
      expect(revoked.sort()).toEqual([a.id, c.id].sort());
      expect((await db().sessions.listActive(user.id, now)).map((s) => s.id)).toEqual([b.id]);
      expect(await db().sessions.revokeAllForUser(user.id, now)).toEqual([b.id]);
      expect(await db().sessions.listActive(user.id, now)).toEqual([]);
    });

    it("deletes sessions that ended before the cutoff, with their token history", async () => {
      const old = at("1971-01-01T00:00:00.000Z");
      const ended = await open({ now: old, expiresAt: plus(old, 1_000) });
      const revoked = await open({ now: old });
      await db().sessions.revoke(revoked.id, plus(old, 500));
      const live = await open({ now: old });
      const removed = await db().sessions.deleteEndedBefore(plus(old, DAY), 1_000);
      expect(removed).toBeGreaterThanOrEqual(2);
      expect(await db().sessions.findById(ended.id)).toBeNull();
      expect(await db().sessions.findById(revoked.id)).toBeNull();
      expect(await db().sessions.findById(live.id)).not.toBeNull();
      // The deleted session's hash is gone too: presenting it is unknown, not reuse.
      expect((await db().sessions.rotate(ended.currentHash, `n-${tag()}`, old, GRACE_MS)).kind).toBe(
        "invalid",
      );
    });
  });
}
