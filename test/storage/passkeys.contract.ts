import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database, NewPasskey, User } from "../../src/storage/types";
import { at, createUser, type DatabaseFactory, plus, race, tag, withHandles } from "./harness";

const T0 = at("2026-11-25T08:00:00.000Z");

function newPasskey(userId: string, overrides: Partial<NewPasskey> = {}): NewPasskey {
  return {
    id: `cred-${tag()}${tag()}`,
    userId,
    publicKey: "pQECAyYgASFYIA",
    counter: 0,
    transports: ["internal", "hybrid"],
    deviceType: "multiDevice",
    backedUp: true,
    name: "Laptop",
    createdAt: T0,
    ...overrides,
  };
}

export function passkeysContract(factory: DatabaseFactory): void {
  describe("passkeys", () => {
    let db: Database;
    let user: User;
    beforeEach(async () => {
      db = factory.open();
      user = await createUser(db);
    });
    afterEach(async () => {
      await db.close();
    });

    it("stores a passkey once per credential id, lists it and marks the user", async () => {
      const p = newPasskey(user.id, { counter: 4_000_000_000 });
      expect(await db.passkeys.create(p)).toBe(true);
      const other = await createUser(db);
      expect(await db.passkeys.create({ ...p, userId: other.id })).toBe(false);
      expect(await db.passkeys.findById(p.id)).toEqual({ ...p, lastUsedAt: null });
      expect((await db.passkeys.listForUser(user.id)).map((x) => x.id)).toEqual([p.id]);
      expect(await db.passkeys.listForUser(other.id)).toEqual([]);
      expect((await db.users.findById(user.id))?.hasPasskey).toBe(true);
      expect((await db.users.findById(other.id))?.hasPasskey).toBe(false);
    });

    it("renames only the owner's passkey", async () => {
      const p = newPasskey(user.id);
      await db.passkeys.create(p);
      const other = await createUser(db);
      expect(await db.passkeys.rename(other.id, p.id, "Stolen")).toBeNull();
      expect((await db.passkeys.rename(user.id, p.id, "Phone"))?.name).toBe("Phone");
      expect((await db.passkeys.findById(p.id))?.name).toBe("Phone");
    });

    it("advances the counter only forwards; 0 -> 0 stays allowed for authenticators that do not count", async () => {
      const counting = newPasskey(user.id, { counter: 5 });
      const still = newPasskey(user.id);
      await db.passkeys.create(counting);
      await db.passkeys.create(still);
      expect(await db.passkeys.recordUse(counting.id, 5, true, plus(T0, 1))).toBe(false);
      expect(await db.passkeys.recordUse(counting.id, 4, true, plus(T0, 1))).toBe(false);
      expect(await db.passkeys.recordUse(counting.id, 6, false, plus(T0, 2))).toBe(true);
      const stored = await db.passkeys.findById(counting.id);
      expect(stored).toMatchObject({ counter: 6, backedUp: false, lastUsedAt: plus(T0, 2) });
      expect(await db.passkeys.recordUse(still.id, 0, true, plus(T0, 3))).toBe(true);
      expect(await db.passkeys.recordUse(still.id, 0, true, plus(T0, 4))).toBe(true);
      expect(await db.passkeys.recordUse("nope", 9, true, T0)).toBe(false);
    });

    it("accepts a counter value once when assertions race", async () => {
      const p = newPasskey(user.id, { counter: 1 });
      await db.passkeys.create(p);
      const results = await withHandles(factory, 4, (handles) =>
        race(handles, 8, (h) => h.passkeys.recordUse(p.id, 2, true, T0)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("refuses to delete the last way to sign in, whatever else the account has", async () => {
      const passwordless = await createUser(db, { passwordHash: null });
      const a = newPasskey(passwordless.id);
      const b = newPasskey(passwordless.id);
      await db.passkeys.create(a);
      expect(await db.passkeys.delete(passwordless.id, a.id)).toBe("last_sign_in_method");
      await db.passkeys.create(b);
      expect(await db.passkeys.delete(user.id, a.id)).toBe("not_found");
      expect(await db.passkeys.delete(passwordless.id, a.id)).toBe("deleted");
      expect(await db.passkeys.delete(passwordless.id, b.id)).toBe("last_sign_in_method");
      expect(await db.passkeys.findById(b.id)).not.toBeNull();
      // A password or a linked provider is another way in.
      const withPassword = newPasskey(user.id);
      await db.passkeys.create(withPassword);
      expect(await db.passkeys.delete(user.id, withPassword.id)).toBe("deleted");
      await db.oauthAccounts.link({
        provider: "google",
        providerUserId: `g-${tag()}`,
        userId: passwordless.id,
        email: null,
        createdAt: T0,
      });
      expect(await db.passkeys.delete(passwordless.id, b.id)).toBe("deleted");
      expect(await db.passkeys.delete(passwordless.id, b.id)).toBe("not_found");
    });

    it("keeps one way to sign in when the last two passkeys are deleted at once", async () => {
      // Each delete on its own sees the other passkey; run side by side on separate connections, at
      // most one may win, or a passwordless account is left with no way in.
      for (let round = 0; round < 10; round++) {
        const passwordless = await createUser(db, { passwordHash: null });
        const a = newPasskey(passwordless.id);
        const b = newPasskey(passwordless.id);
        await db.passkeys.create(a);
        await db.passkeys.create(b);
        const results = await withHandles(factory, 2, (handles) =>
          race(handles, 2, (h, i) => h.passkeys.delete(passwordless.id, i === 0 ? a.id : b.id)),
        );
        expect(results.toSorted()).toEqual(["deleted", "last_sign_in_method"]);
        expect(await db.passkeys.listForUser(passwordless.id)).toHaveLength(1);
        expect((await db.users.findById(passwordless.id))?.hasPasskey).toBe(true);
      }
    });

    it("keeps the rule, and other callers' statements, when the deletes share one handle", async () => {
      // One request's handle is shared by concurrent calls: the deletes must still exclude each other,
      // and the statements interleaved with them must run (and commit) as usual.
      const passwordless = await createUser(db, { passwordHash: null });
      const a = newPasskey(passwordless.id);
      const b = newPasskey(passwordless.id);
      await db.passkeys.create(a);
      await db.passkeys.create(b);
      const renamed = newPasskey(user.id);
      await db.passkeys.create(renamed);
      const results = await withHandles(factory, 1, (handles) =>
        race(handles, 6, (h, i) => {
          if (i % 3 === 2) return h.passkeys.rename(user.id, renamed.id, `Phone ${i}`).then((r) => r?.name);
          return h.passkeys.delete(passwordless.id, i % 3 === 0 ? a.id : b.id);
        }),
      );
      const outcomes = results.filter(
        (r) => r === "deleted" || r === "last_sign_in_method" || r === "not_found",
      );
      expect(outcomes.filter((r) => r === "deleted")).toHaveLength(1);
      expect(outcomes.filter((r) => r === "last_sign_in_method").length).toBeGreaterThanOrEqual(1);
      expect(results.filter((r) => r?.startsWith("Phone"))).toEqual(["Phone 2", "Phone 5"]);
      expect(await db.passkeys.listForUser(passwordless.id)).toHaveLength(1);
      expect((await db.passkeys.findById(renamed.id))?.name).toMatch(/^Phone [25]$/);
    });
  });

  describe("passkey challenges", () => {
    let db: Database;
    let user: User;
    beforeEach(async () => {
      db = factory.open();
      user = await createUser(db);
    });
    afterEach(async () => {
      await db.close();
    });

    const issue = async (purpose: "registration" | "authentication", userId: string | null) => {
      const challengeHash = `c-${tag()}${tag()}`;
      await db.passkeyChallenges.create({
        challengeHash,
        purpose,
        userId,
        expiresAt: plus(T0, 300_000),
        now: T0,
      });
      return challengeHash;
    };

    it("consumes a challenge once, for its purpose and its user only", async () => {
      const reg = await issue("registration", user.id);
      const other = await createUser(db);
      expect(await db.passkeyChallenges.consume("authentication", reg, null, T0)).toBe(false);
      expect(await db.passkeyChallenges.consume("registration", reg, other.id, T0)).toBe(false);
      expect(await db.passkeyChallenges.consume("registration", reg, null, T0)).toBe(false);
      expect(await db.passkeyChallenges.consume("registration", reg, user.id, T0)).toBe(true);
      expect(await db.passkeyChallenges.consume("registration", reg, user.id, T0)).toBe(false);
      const auth = await issue("authentication", null);
      expect(await db.passkeyChallenges.consume("authentication", auth, user.id, T0)).toBe(false);
      expect(await db.passkeyChallenges.consume("authentication", auth, null, T0)).toBe(true);
    });

    it("refuses an expired challenge and retention deletes it", async () => {
      const hash = await issue("authentication", null);
      expect(await db.passkeyChallenges.consume("authentication", hash, null, plus(T0, 300_000))).toBe(false);
      expect(await db.passkeyChallenges.deleteExpiredBefore(plus(T0, 300_001), 1_000)).toBeGreaterThanOrEqual(
        1,
      );
      const kept = await issue("authentication", null);
      expect(await db.passkeyChallenges.deleteExpiredBefore(plus(T0, 1), 1_000)).toBe(0);
      expect(await db.passkeyChallenges.consume("authentication", kept, null, plus(T0, 2))).toBe(true);
    });

    it("hands a challenge to exactly one of many concurrent consumers", async () => {
      const hash = await issue("authentication", null);
      const results = await withHandles(factory, 4, (handles) =>
        race(handles, 12, (h) => h.passkeyChallenges.consume("authentication", hash, null, plus(T0, 1))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
}
