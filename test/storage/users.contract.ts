import { describe, expect, it } from "vitest";
import type { User } from "../../src/storage/types";
import {
  at,
  createUser,
  type DatabaseFactory,
  newUser,
  race,
  tag,
  useDatabase,
  withHandles,
} from "./harness";

/** Newest first, ties broken by id (bytewise), as the keyset cursor walks. */
function keysetOrder(a: User, b: User): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  return byTime !== 0 ? byTime : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function usersContract(factory: DatabaseFactory): void {
  describe("users", () => {
    const db = useDatabase(factory);

    it("creates a user with safe defaults and finds it by id and by email in any case", async () => {
      const email = `Ada.${tag()}@Example.TEST`;
      const created = await createUser(db(), { email, fullName: "Ada", isVerified: false });
      expect(created).toMatchObject({
        email,
        fullName: "Ada",
        role: "user",
        isActive: true,
        isVerified: false,
        twoFactorEnabled: false,
        oauthProviders: [],
      });
      expect(created.createdAt.toISOString()).toBe("2026-11-25T08:00:00.000Z");
      expect(await db().users.findById(created.id)).toEqual(created);
      expect(await db().users.findByEmail(email.toUpperCase())).toEqual(created);
      expect(await db().users.findByEmail(email.toLowerCase())).toEqual(created);
      expect(await db().users.findById(crypto.randomUUID())).toBeNull();
      expect(await db().users.findByEmail(`nobody-${tag()}@example.test`)).toBeNull();
    });

    it("marks an address verified once: of concurrent calls one wins, and only it may promote", async () => {
      const T0 = at("2026-11-25T08:00:00.000Z");
      const user = await createUser(db(), { isVerified: false });
      const results = await Promise.all(
        Array.from({ length: 5 }, () => db().users.markVerified(user.id, true, T0)),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(winners[0]).toMatchObject({ id: user.id, isVerified: true, role: "admin" });
      // Demoted later: a second verification of the verified address changes nothing.
      await db().users.update(user.id, { role: "user" }, T0);
      expect(await db().users.markVerified(user.id, true, T0)).toBeNull();
      expect(await db().users.findById(user.id)).toMatchObject({ isVerified: true, role: "user" });
    });

    it("keeps emails unique by their lower-cased form, also under concurrent sign-ups", async () => {
      const local = `grace-${tag()}`;
      await createUser(db(), { email: `${local}@example.test` });
      expect(await db().users.create(newUser({ email: `${local.toUpperCase()}@EXAMPLE.test` }))).toBeNull();

      const other = `linus-${tag()}`;
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 10, (h, i) =>
          h.users.create(
            newUser({ email: i % 2 ? `${other}@example.test` : `${other.toUpperCase()}@EXAMPLE.TEST` }),
          ),
        ),
      );
      // One address in two spellings: exactly one of the ten callers gets the account.
      expect(results.filter((u) => u !== null)).toHaveLength(1);
    });

    it("updates a patch and reports an unknown id", async () => {
      const user = await createUser(db());
      const later = at("2026-11-26T00:00:00.000Z");
      const updated = await db().users.update(
        user.id,
        { role: "admin", isActive: false, fullName: "X" },
        later,
      );
      expect(updated).toMatchObject({ role: "admin", isActive: false, fullName: "X" });
      expect(updated?.updatedAt.toISOString()).toBe(later.toISOString());
      expect(updated?.createdAt.toISOString()).toBe(user.createdAt.toISOString());
      expect(await db().users.update(crypto.randomUUID(), { role: "admin" }, later)).toBeNull();
    });

    it("lists linked OAuth providers, sorted and without duplicates", async () => {
      const user = await createUser(db());
      const now = at("2026-11-25T09:00:00.000Z");
      await db().oauthAccounts.link({
        provider: "google",
        providerUserId: tag(),
        userId: user.id,
        email: null,
        createdAt: now,
      });
      await db().oauthAccounts.link({
        provider: "facebook",
        providerUserId: tag(),
        userId: user.id,
        email: null,
        createdAt: now,
      });
      await db().oauthAccounts.link({
        provider: "google",
        providerUserId: tag(),
        userId: user.id,
        email: null,
        createdAt: now,
      });
      expect((await db().users.findById(user.id))?.oauthProviders).toEqual(["facebook", "google"]);
    });

    it("walks every page of the keyset pagination with no duplicate and no gap, ties included", async () => {
      const prefix = `walk-${tag()}-`;
      const base = at("2026-01-01T00:00:00.000Z").getTime();
      const made: User[] = [];
      for (let i = 0; i < 11; i++) {
        // Groups of three share a timestamp, so the id tie-breaker is exercised at page boundaries.
        const now = new Date(base + Math.floor(i / 3) * 1000);
        made.push(await createUser(db(), { email: `${prefix}${i}@example.test`, now }));
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await db().users.list({ limit: 4, cursor, emailPrefix: prefix });
        expect(page.items.length).toBeLessThanOrEqual(4);
        seen.push(...page.items.map((u) => u.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual([...made].sort(keysetOrder).map((u) => u.id));
    });

    it("treats % and _ in an email prefix literally", async () => {
      const t = `lit-${tag()}`;
      const pct = await createUser(db(), { email: `${t}%1@example.test` });
      const under = await createUser(db(), { email: `${t}_2@example.test` });
      const plain = await createUser(db(), { email: `${t}ab3@example.test` });
      const ids = async (emailPrefix: string) =>
        (await db().users.list({ limit: 50, emailPrefix })).items.map((u) => u.id).sort();

      expect(await ids(`${t}%`)).toEqual([pct.id]);
      expect(await ids(`${t}_`)).toEqual([under.id]);
      expect(await ids(`${t}\\`)).toEqual([]);
      expect(await ids(t)).toEqual([pct.id, under.id, plain.id].sort());
    });
  });
}
