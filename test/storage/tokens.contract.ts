import { beforeEach, describe, expect, it } from "vitest";
import type { User } from "../../src/storage/types";
import { at, createUser, type DatabaseFactory, plus, race, tag, useDatabase, withHandles } from "./harness";

const T0 = at("2026-11-25T08:00:00.000Z");

export function tokensContract(factory: DatabaseFactory): void {
  describe("one-time tokens", () => {
    const db = useDatabase(factory);
    let user: User;
    beforeEach(async () => {
      user = await createUser(db());
    });

    const issue = async (purpose: "email_verification" | "password_reset" | "mfa", expiresIn = 3_600_000) => {
      const tokenHash = `t-${tag()}-${tag()}`;
      await db().tokens.create({
        tokenHash,
        purpose,
        userId: user.id,
        data: { email: user.email, n: 1 },
        expiresAt: plus(T0, expiresIn),
        now: T0,
      });
      return tokenHash;
    };

    it("consumes a token once, returning its user and data", async () => {
      const hash = await issue("email_verification");
      expect(await db().tokens.consume("email_verification", hash, plus(T0, 1))).toEqual({
        userId: user.id,
        data: { email: user.email, n: 1 },
      });
      expect(await db().tokens.consume("email_verification", hash, plus(T0, 2))).toBeNull();
    });

    it("peeks without consuming, and only at live tokens of the purpose", async () => {
      const hash = await issue("password_reset", 1_000);
      const expected = { userId: user.id, data: { email: user.email, n: 1 } };
      expect(await db().tokens.peek("password_reset", hash, plus(T0, 1))).toEqual(expected);
      expect(await db().tokens.peek("password_reset", hash, plus(T0, 2))).toEqual(expected);
      expect(await db().tokens.peek("email_verification", hash, plus(T0, 1))).toBeNull();
      expect(await db().tokens.peek("password_reset", hash, plus(T0, 1_000))).toBeNull();
      expect(await db().tokens.consume("password_reset", hash, plus(T0, 3))).toEqual(expected);
      expect(await db().tokens.peek("password_reset", hash, plus(T0, 4))).toBeNull();
    });

    it("gives a token to exactly one of many concurrent consumers", async () => {
      const hash = await issue("password_reset");
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 10, (h) => h.tokens.consume("password_reset", hash, plus(T0, 1))),
      );
      expect(results.filter((r) => r !== null)).toHaveLength(1);
    });

    it("refuses the wrong purpose, an expired token and an unknown one", async () => {
      const hash = await issue("mfa", 1_000);
      expect(await db().tokens.consume("password_reset", hash, plus(T0, 1))).toBeNull();
      expect(await db().tokens.consume("mfa", hash, plus(T0, 1_000))).toBeNull();
      expect(await db().tokens.consume("mfa", `nope-${tag()}`, T0)).toBeNull();
    });

    it("keeps a token without data or user", async () => {
      const tokenHash = `t-${tag()}`;
      await db().tokens.create({
        tokenHash,
        purpose: "oauth_state",
        userId: null,
        expiresAt: plus(T0, 1_000),
        now: T0,
      });
      expect(await db().tokens.consume("oauth_state", tokenHash, T0)).toEqual({ userId: null, data: null });
    });

    it("invalidates every outstanding token of one purpose for a user", async () => {
      const a = await issue("password_reset");
      const b = await issue("password_reset");
      const other = await issue("email_verification");
      await db().tokens.invalidateForUser(user.id, "password_reset", plus(T0, 1));
      expect(await db().tokens.consume("password_reset", a, plus(T0, 2))).toBeNull();
      expect(await db().tokens.consume("password_reset", b, plus(T0, 2))).toBeNull();
      expect(await db().tokens.consume("email_verification", other, plus(T0, 2))).not.toBeNull();
    });

    it("deletes tokens that expired before the cutoff", async () => {
      const old = at("1971-01-01T00:00:00.000Z");
      const gone = `t-${tag()}`;
      await db().tokens.create({
        tokenHash: gone,
        purpose: "mfa",
        userId: user.id,
        expiresAt: old,
        now: old,
      });
      const kept = await issue("mfa");
      expect(await db().tokens.deleteExpiredBefore(plus(old, 1), 1_000)).toBeGreaterThanOrEqual(1);
      // A deleted token cannot be consumed even with a clock that says it is still valid.
      expect(await db().tokens.consume("mfa", gone, plus(old, -1))).toBeNull();
      expect(await db().tokens.consume("mfa", kept, plus(T0, 1))).not.toBeNull();
    });
  });
}
