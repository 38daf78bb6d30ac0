import { describe, expect, it } from "vitest";
import { verifyAuditLog } from "../../src/audit/verify";
import type { NewAuditEntry } from "../../src/storage/types";
import { at, createUser, type DatabaseFactory, race, tag, useDatabase, withHandles } from "./harness";

const T0 = at("2026-11-25T08:00:00.000Z");
const KILL = ["email_verification", "password_reset", "email_change", "email_login"];

function deletedEntry(userId: string, createdAt: Date): NewAuditEntry {
  return {
    id: crypto.randomUUID(),
    userId,
    action: "account_deleted",
    ip: null,
    userAgent: null,
    createdAt,
    metadata: {},
  };
}

export function accountsContract(factory: DatabaseFactory): void {
  describe("accounts", () => {
    const db = useDatabase(factory);

    it("of concurrent unlinks of a passwordless account's two providers, exactly one lands", async () => {
      const user = await createUser(db(), { passwordHash: null });
      for (const provider of ["google", "facebook"] as const)
        await db().oauthAccounts.link({
          provider,
          providerUserId: `${provider}-${tag()}`,
          userId: user.id,
          email: null,
          createdAt: T0,
        });
      const results = await withHandles(factory, 4, (handles) =>
        race(handles, 20, (h, i) => h.accounts.unlinkProvider(user.id, i % 2 ? "google" : "facebook")),
      );
      expect(results.filter((r) => r === "unlinked")).toHaveLength(1);
      expect(results.every((r) => r === "unlinked" || r === "last_sign_in_method" || r === "not_found")).toBe(
        true,
      );
      expect((await db().users.findById(user.id))?.oauthProviders).toHaveLength(1);
    });

    it("an email change lands once; a taken address leaves the token unspent; outstanding tokens die", async () => {
      const [a, b] = [await createUser(db()), await createUser(db())];
      const target = `moved-${tag()}@example.test`;
      const token = (n: string) => `${n}-${tag()}`;
      const [ta, tb, reset] = [token("a"), token("b"), token("r")];
      for (const [hash, userId] of [
        [ta, a.id],
        [tb, b.id],
      ] as const)
        await db().tokens.create({
          tokenHash: hash,
          purpose: "email_change",
          userId,
          data: { email: target },
          expiresAt: at("2026-11-25T09:00:00.000Z"),
          now: T0,
        });
      await db().tokens.create({
        tokenHash: reset,
        purpose: "password_reset",
        userId: a.id,
        expiresAt: at("2026-11-25T09:00:00.000Z"),
        now: T0,
      });
      const results = await withHandles(factory, 4, (handles) =>
        race(handles, 20, (h, i) =>
          h.accounts.confirmEmailChange(i % 2 ? tb : ta, KILL, at("2026-11-25T08:10:00.000Z")),
        ),
      );
      const changed = results.filter((r) => r.kind === "changed");
      expect(changed).toHaveLength(1);
      const winner = changed[0]!.kind === "changed" ? changed[0]!.user : null;
      expect(winner?.email).toBe(target);
      expect((await db().users.findByEmail(target.toUpperCase()))?.id).toBe(winner?.id);
      const loserToken = winner?.id === a.id ? tb : ta;
      // The loser's token was never spent: it is still live (and still refused while the address is taken).
      expect(
        await db().tokens.peek("email_change", loserToken, at("2026-11-25T08:11:00.000Z")),
      ).not.toBeNull();
      if (winner?.id === a.id)
        expect(await db().tokens.peek("password_reset", reset, at("2026-11-25T08:11:00.000Z"))).toBeNull();
    });

    it("erases once under concurrency, appends one final entry, and the chain verifies", async () => {
      const user = await createUser(db());
      await db().audit.append({
        id: crypto.randomUUID(),
        userId: user.id,
        action: "login_succeeded",
        ip: "192.0.2.1",
        userAgent: "ua",
        createdAt: T0,
        metadata: {},
      });
      const bystander = await createUser(db());
      const results = await withHandles(factory, 4, (handles) =>
        race(handles, 12, (h) =>
          h.accounts.erase({
            userId: user.id,
            email: user.email,
            personKeys: [],
            audit: deletedEntry(user.id, at("2026-11-25T08:05:00.000Z")),
            now: T0,
          }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await db().users.findById(user.id)).toBeNull();
      expect(await db().users.findById(bystander.id)).not.toBeNull();
      const entries = (await db().audit.list({ userId: user.id, limit: 10 })).items;
      expect(entries.map((e) => e.action)).toEqual(["account_deleted", "login_succeeded"]);
      expect(entries.every((e) => e.ip === null && e.userAgent === null && e.personalSalt === null)).toBe(
        true,
      );
      expect(await verifyAuditLog(db().audit, { userId: user.id })).toEqual({ ok: true, checked: 2 });
    });

    it("of concurrent claims on one username, exactly one lands", async () => {
      const users = await Promise.all(Array.from({ length: 4 }, () => createUser(db())));
      const name = `name_${tag()}`;
      const results = await withHandles(factory, 4, (handles) =>
        race(handles, 16, (h, i) =>
          h.accounts.updateProfile(users[i % 4]!.id, { username: i % 2 ? name : name.toUpperCase() }, T0),
        ),
      );
      expect(
        new Set(
          results.filter((r) => r.kind === "updated").map((r) => (r.kind === "updated" ? r.user.id : "")),
        ),
      ).toHaveProperty("size", 1);
      expect(results.every((r) => r.kind === "updated" || r.kind === "username_taken")).toBe(true);
    });
  });
}
