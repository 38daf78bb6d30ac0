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

    const mailed = async (emailLower: string, now = T0, data: Record<string, unknown> = { c: 1 }) => {
      const tokenHash = `m-${tag()}-${tag()}`;
      await db().tokens.create({
        tokenHash,
        purpose: "email_login",
        userId: null,
        emailLower,
        data,
        expiresAt: plus(now, 600_000),
        now,
      });
      return tokenHash;
    };

    it("keeps only the newest pending token of an address", async () => {
      const email = `a-${tag()}@example.com`;
      const older = await mailed(email, T0);
      const otherAddress = await mailed(`b-${tag()}@example.com`, T0);
      const newer = await mailed(email, plus(T0, 5));
      await db().tokens.keepNewestForEmail("email_login", email, plus(T0, 6));
      expect(await db().tokens.consume("email_login", older, plus(T0, 7))).toBeNull();
      expect(await db().tokens.consume("email_login", otherAddress, plus(T0, 7))).not.toBeNull();
      expect(await db().tokens.consume("email_login", newer, plus(T0, 7))).not.toBeNull();
    });

    it("a request whose row lands late cannot outlive a newer one", async () => {
      const email = `c-${tag()}@example.com`;
      // The second request's row and its statement ran before the first request's insert landed.
      const later = await mailed(email, plus(T0, 10));
      await db().tokens.keepNewestForEmail("email_login", email, plus(T0, 10));
      const first = await mailed(email, T0);
      await db().tokens.keepNewestForEmail("email_login", email, plus(T0, 11));
      expect(await db().tokens.consume("email_login", first, plus(T0, 12))).toBeNull();
      expect(await db().tokens.consume("email_login", later, plus(T0, 12))).not.toBeNull();
    });

    it("racing requests for one address leave exactly one pending token", async () => {
      const email = `r-${tag()}@example.com`;
      const hashes = await withHandles(factory, 5, (handles) =>
        race(handles, 10, async (h, i) => {
          const tokenHash = `r-${tag()}-${i}`;
          const now = plus(T0, i % 3);
          await h.tokens.create({
            tokenHash,
            purpose: "email_login",
            userId: null,
            emailLower: email,
            expiresAt: plus(now, 600_000),
            now,
          });
          await h.tokens.keepNewestForEmail("email_login", email, now);
          return tokenHash;
        }),
      );
      const live = [];
      for (const hash of hashes)
        if (await db().tokens.peek("email_login", hash, plus(T0, 20))) live.push(hash);
      expect(live).toHaveLength(1);
    });

    it("counts code guesses before they are checked, up to the limit, on live tokens only", async () => {
      const email = `d-${tag()}@example.com`;
      const hash = await mailed(email, T0, { code_hash: "h" });
      for (let i = 1; i <= 3; i++) {
        const admitted = await db().tokens.admitCodeAttempt("email_login", email, 3, plus(T0, i));
        expect(admitted).toEqual([{ tokenHash: hash, userId: null, data: { code_hash: "h" }, attempts: i }]);
      }
      expect(await db().tokens.admitCodeAttempt("email_login", email, 3, plus(T0, 4))).toEqual([]);
      expect(await db().tokens.admitCodeAttempt("email_login", `x-${email}`, 3, plus(T0, 4))).toEqual([]);
      expect(await db().tokens.admitCodeAttempt("mfa", email, 3, plus(T0, 4))).toEqual([]);
      // Expired or consumed: nothing to guess at.
      const expired = `e-${tag()}@example.com`;
      await mailed(expired, T0);
      expect(await db().tokens.admitCodeAttempt("email_login", expired, 3, plus(T0, 600_000))).toEqual([]);
      const consumed = `f-${tag()}@example.com`;
      const spent = await mailed(consumed, T0);
      await db().tokens.consume("email_login", spent, plus(T0, 1));
      expect(await db().tokens.admitCodeAttempt("email_login", consumed, 3, plus(T0, 2))).toEqual([]);
    });

    it("admits exactly the limit of many concurrent guesses", async () => {
      const email = `g-${tag()}@example.com`;
      await mailed(email, T0);
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 30, (h) => h.tokens.admitCodeAttempt("email_login", email, 5, plus(T0, 1))),
      );
      const admitted = results.filter((r) => r.length === 1).map((r) => r[0]!.attempts);
      expect(admitted.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
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
