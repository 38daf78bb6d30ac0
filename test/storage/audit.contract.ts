import { describe, expect, it } from "vitest";
import { GENESIS_HASH } from "../../src/audit/chain";
import type { NewAuditEntry } from "../../src/storage/types";
import { at, type DatabaseFactory, useDatabase } from "./harness";

/** The chain fields of a chain's first entry. */
export function firstLink(chain: string) {
  return {
    chain,
    seq: 1,
    prevHash: GENESIS_HASH,
    hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    // The entries of these suites carry an IP, so their IP and user agent are sealed (src/audit/chain.ts).
    personalSalt: expect.stringMatching(/^[0-9a-f]{32}$/),
    personalDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
  };
}

function keysetOrder(a: NewAuditEntry, b: NewAuditEntry): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  return byTime !== 0 ? byTime : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function auditContract(factory: DatabaseFactory): void {
  describe("audit log", () => {
    const db = useDatabase(factory);

    const entry = (userId: string, action: string, createdAt: Date, metadata = {}): NewAuditEntry => ({
      id: crypto.randomUUID(),
      userId,
      action,
      ip: "198.51.100.1",
      userAgent: "vitest",
      createdAt,
      metadata,
    });

    it("round-trips an entry with its metadata", async () => {
      const userId = crypto.randomUUID();
      const e = entry(userId, "user_updated", at("2026-11-25T08:00:00.123Z"), {
        changes: { role: "admin" },
        actor_id: "a1",
        list: [1, "two", null],
      });
      await db().audit.append(e);
      expect((await db().audit.list({ limit: 10, userId })).items).toEqual([{ ...e, ...firstLink(userId) }]);
    });

    it("walks a user's entries newest first, ties included, with no duplicate and no gap", async () => {
      const userId = crypto.randomUUID();
      const base = at("2026-06-01T00:00:00.000Z").getTime();
      const made: NewAuditEntry[] = [];
      for (let i = 0; i < 13; i++) {
        const e = entry(
          userId,
          i % 2 ? "login_failed" : "login_succeeded",
          new Date(base + Math.floor(i / 4) * 10),
        );
        await db().audit.append(e);
        made.push(e);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await db().audit.list({ limit: 5, cursor, userId });
        seen.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual([...made].sort(keysetOrder).map((e) => e.id));
    });

    it("filters by actions and by an inclusive time range", async () => {
      const userId = crypto.randomUUID();
      const t = (m: number) => at(`2026-07-01T00:0${m}:00.000Z`);
      for (const [i, action] of ["register", "login_succeeded", "logout", "login_failed"].entries()) {
        await db().audit.append(entry(userId, action, t(i)));
      }
      const actions = async (q: { actions?: string[]; since?: Date; until?: Date }) =>
        (await db().audit.list({ limit: 10, userId, ...q })).items.map((e) => e.action);
      expect(await actions({ actions: ["logout", "register"] })).toEqual(["logout", "register"]);
      expect(await actions({ since: t(1), until: t(2) })).toEqual(["logout", "login_succeeded"]);
      expect(await actions({ since: t(3) })).toEqual(["login_failed"]);
      expect(await actions({ actions: [] })).toHaveLength(4);
    });

    it("deletes entries older than the cutoff only", async () => {
      const userId = crypto.randomUUID();
      await db().audit.append(entry(userId, "old", at("1971-01-01T00:00:00.000Z")));
      await db().audit.append(entry(userId, "new", at("2026-01-01T00:00:00.000Z")));
      expect(await db().audit.deleteOlderThan(at("1971-01-02T00:00:00.000Z"))).toBeGreaterThanOrEqual(1);
      expect((await db().audit.list({ limit: 10, userId })).items.map((e) => e.action)).toEqual(["new"]);
    });
  });
}
