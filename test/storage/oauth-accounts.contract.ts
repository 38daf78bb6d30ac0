import { describe, expect, it } from "vitest";
import type { OAuthAccount } from "../../src/storage/types";
import { at, createUser, type DatabaseFactory, race, tag, useDatabase, withHandles } from "./harness";

export function oauthAccountsContract(factory: DatabaseFactory): void {
  describe("oauth accounts", () => {
    const db = useDatabase(factory);

    it("links a provider account once, finds it and shows it on its user", async () => {
      const user = await createUser(db());
      const account: OAuthAccount = {
        provider: "google",
        providerUserId: `g-${tag()}`,
        userId: user.id,
        email: "ada@gmail.test",
        createdAt: at("2026-11-25T08:00:00.000Z"),
      };
      expect(await db().oauthAccounts.link(account)).toBe(true);
      expect(await db().oauthAccounts.find("google", account.providerUserId)).toEqual(account);
      // The same id at another provider is another account.
      expect(await db().oauthAccounts.find("facebook", account.providerUserId)).toBeNull();
      const other = await createUser(db());
      expect(await db().oauthAccounts.link({ ...account, userId: other.id })).toBe(false);
      // The link shows on its user only.
      expect((await db().users.findById(user.id))?.oauthProviders).toEqual(["google"]);
      expect((await db().users.findById(other.id))?.oauthProviders).toEqual([]);
    });

    it("lets exactly one of concurrent links of the same provider account win", async () => {
      const users = await Promise.all([createUser(db()), createUser(db()), createUser(db())]);
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
