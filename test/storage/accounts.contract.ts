import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database, OAuthAccount } from "../../src/storage/types";
import { at, createUser, type DatabaseFactory, race, tag, withHandles } from "./harness";

export function oauthAccountsContract(factory: DatabaseFactory): void {
  describe("oauth accounts", () => {
    let db: Database;
    beforeEach(() => {
      db = factory.open();
    });
    afterEach(async () => {
      await db.close();
    });

    it("links a provider account once, finds it and lists a user's links", async () => {
      const user = await createUser(db);
      const account: OAuthAccount = {
        provider: "google",
        providerUserId: `g-${tag()}`,
        userId: user.id,
        email: "ada@gmail.test",
        createdAt: at("2026-11-25T08:00:00.000Z"),
      };
      expect(await db.oauthAccounts.link(account)).toBe(true);
      expect(await db.oauthAccounts.find("google", account.providerUserId)).toEqual(account);
      // The same id at another provider is another account.
      expect(await db.oauthAccounts.find("facebook", account.providerUserId)).toBeNull();
      const other = await createUser(db);
      expect(await db.oauthAccounts.link({ ...account, userId: other.id })).toBe(false);
      expect(await db.oauthAccounts.listForUser(user.id)).toEqual([account]);
      expect(await db.oauthAccounts.listForUser(other.id)).toEqual([]);
    });

    it("lets exactly one of concurrent links of the same provider account win", async () => {
      const users = await Promise.all([createUser(db), createUser(db), createUser(db)]);
      const providerUserId = `fb-${tag()}`;
      const results = await withHandles(factory, 3, (handles) =>
        race(handles, 9, (h, i) =>
          h.oauthAccounts.link({
            provider: "facebook",
            providerUserId,
            userId: users[i % 3]!.id,
            email: null,
            createdAt: at("2026-11-25T08:00:00.000Z"),
          }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
}
