import { beforeEach, describe, expect, it } from "vitest";
import type { User } from "../../src/storage/types";
import { at, createUser, type DatabaseFactory, race, tag, useDatabase, withHandles } from "./harness";

const NOW = at("2026-11-25T08:00:00.000Z");
const codes = (n: number) => Array.from({ length: n }, () => `rc-${tag()}-${tag()}`);

export function twoFactorContract(factory: DatabaseFactory): void {
  describe("two-factor", () => {
    const db = useDatabase(factory);
    let user: User;
    beforeEach(async () => {
      user = await createUser(db());
    });

    const enable = async (step = 1000, hashes = codes(10)) => {
      await db().twoFactor.setPending(user.id, "pending-secret", NOW);
      expect(await db().twoFactor.enable(user.id, "pending-secret", step, hashes, NOW)).toBe(true);
      return hashes;
    };

    it("enables only the pending secret, once, and replaces the recovery codes", async () => {
      expect(await db().twoFactor.get(user.id)).toEqual({
        secretEnc: null,
        pendingSecretEnc: null,
        lastStep: null,
      });
      expect(await db().twoFactor.get(crypto.randomUUID())).toBeNull();

      await db().twoFactor.setPending(user.id, "pending-secret", NOW);
      expect(await db().twoFactor.get(user.id)).toMatchObject({ pendingSecretEnc: "pending-secret" });
      expect(await db().twoFactor.enable(user.id, "another-secret", 1000, codes(10), NOW)).toBe(false);
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(0);

      expect(await db().twoFactor.enable(user.id, "pending-secret", 1000, codes(10), NOW)).toBe(true);
      expect(await db().twoFactor.get(user.id)).toEqual({
        secretEnc: "pending-secret",
        pendingSecretEnc: null,
        lastStep: 1000,
      });
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(10);
      expect((await db().users.findById(user.id))?.twoFactorEnabled).toBe(true);

      // Already enabled: a second enable (even with a fresh pending secret) changes nothing.
      await db().twoFactor.setPending(user.id, "pending-2", NOW);
      expect(await db().twoFactor.enable(user.id, "pending-2", 2000, codes(3), NOW)).toBe(false);
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(10);
    });

    it("enables all or nothing: when the recovery codes cannot be stored, 2FA stays off", async () => {
      await db().twoFactor.setPending(user.id, "pending-secret", NOW);
      const [dup] = codes(1);
      // The same code twice cannot be stored (one row per user and code): the whole enable must fail.
      await expect(
        db().twoFactor.enable(user.id, "pending-secret", 1000, [dup!, dup!], NOW),
      ).rejects.toThrow();
      expect(await db().twoFactor.get(user.id)).toEqual({
        secretEnc: null,
        pendingSecretEnc: "pending-secret",
        lastStep: null,
      });
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(0);
      // And the pending secret can still be enabled properly.
      expect(await db().twoFactor.enable(user.id, "pending-secret", 1000, codes(10), NOW)).toBe(true);
    });

    it("lets exactly one of concurrent enables win", async () => {
      await db().twoFactor.setPending(user.id, "pending-secret", NOW);
      const results = await withHandles(factory, 4, (handles) =>
        race(handles, 8, (h) => h.twoFactor.enable(user.id, "pending-secret", 1000, codes(10), NOW)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(10);
    });

    it("accepts each TOTP step once and never an earlier one, also under concurrency", async () => {
      expect(await db().twoFactor.acceptStep(user.id, 5)).toBe(false); // not enabled
      await enable(1000);
      expect(await db().twoFactor.acceptStep(user.id, 1000)).toBe(false);
      expect(await db().twoFactor.acceptStep(user.id, 999)).toBe(false);
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 10, (h) => h.twoFactor.acceptStep(user.id, 1001)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await db().twoFactor.acceptStep(user.id, 1003)).toBe(true);
      expect(await db().twoFactor.acceptStep(user.id, 1002)).toBe(false);
      expect((await db().twoFactor.get(user.id))?.lastStep).toBe(1003);
    });

    it("consumes a recovery code once, also under concurrency", async () => {
      const [first, second] = await enable();
      expect(await db().twoFactor.consumeRecoveryCode(user.id, first!, NOW)).toBe(true);
      expect(await db().twoFactor.consumeRecoveryCode(user.id, first!, NOW)).toBe(false);
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 10, (h) => h.twoFactor.consumeRecoveryCode(user.id, second!, NOW)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(8);
      // A code belongs to its user only.
      const other = await createUser(db());
      expect(await db().twoFactor.consumeRecoveryCode(other.id, first!, NOW)).toBe(false);
    });

    it("replaces recovery codes: old ones stop working, a re-issued one is fresh", async () => {
      const [kept, dropped, used] = await enable();
      expect(await db().twoFactor.consumeRecoveryCode(user.id, used!, NOW)).toBe(true);
      const fresh = codes(3);
      await db().twoFactor.replaceRecoveryCodes(user.id, [kept!, used!, ...fresh], NOW);
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(5);
      expect(await db().twoFactor.consumeRecoveryCode(user.id, dropped!, NOW)).toBe(false);
      expect(await db().twoFactor.consumeRecoveryCode(user.id, used!, NOW)).toBe(true);
      expect(await db().twoFactor.consumeRecoveryCode(user.id, fresh[0]!, NOW)).toBe(true);
      await db().twoFactor.replaceRecoveryCodes(user.id, [], NOW);
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(0);
    });

    it("disables: secret, pending secret, last step and codes are gone", async () => {
      await enable();
      await db().twoFactor.disable(user.id, NOW);
      expect(await db().twoFactor.get(user.id)).toEqual({
        secretEnc: null,
        pendingSecretEnc: null,
        lastStep: null,
      });
      expect(await db().twoFactor.countRecoveryCodes(user.id)).toBe(0);
      expect((await db().users.findById(user.id))?.twoFactorEnabled).toBe(false);
    });
  });
}
