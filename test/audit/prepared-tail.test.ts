import { describe, expect, it } from "vitest";
import { chainOf } from "../../src/audit/chain";
import { verifyAuditLog } from "../../src/audit/verify";
import { newId } from "../../src/lib/crypto";
import type { Database, NewAuditEntry, NewSession, PreparedTail } from "../../src/storage/types";
import { auditEntries, database, userWithPasswordHash, withDb } from "../helpers";

// A sign-in reads its chain's tail ahead (while the password hashes) and writes after it later: these
// tests make that read go stale on purpose and check that the chain never forks.

const DAY = 24 * 60 * 60 * 1000;

function entry(userId: string, action = "login_succeeded"): NewAuditEntry {
  return {
    id: newId(),
    userId,
    action,
    ip: "198.51.100.7",
    userAgent: "vitest",
    createdAt: new Date(),
    metadata: { method: "password" },
  };
}

function session(userId: string): NewSession {
  return {
    id: newId(),
    userId,
    refreshHash: `rt-${newId()}`,
    expiresAt: new Date(Date.now() + DAY),
    ip: null,
    userAgent: null,
    now: new Date(),
  };
}

function prepared(db: Database, userId: string): PreparedTail {
  return { chain: chainOf(userId), tail: db.audit.prepare(userId) };
}

/** A user row (sessions reference it). */
async function newUser(): Promise<string> {
  return (await userWithPasswordHash(null, "tail")).id;
}

/** The user's chain: seqs 1..n without a gap or a duplicate, and every link verifies. */
async function expectUnforked(userId: string, n: number): Promise<void> {
  const rows = await auditEntries(userId);
  expect(rows.map((r) => r.seq).sort((a, b) => a! - b!)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  expect(await withDb((db) => verifyAuditLog(db.audit, { userId, pageSize: 7 }))).toEqual({
    ok: true,
    checked: n,
  });
}

describe("audit chain: tails read ahead", () => {
  it("prepare reads where the chain ends (its newest seq and hash)", async () => {
    const userId = await newUser();
    await withDb(async (db) => {
      expect(await db.audit.prepare(userId)).toEqual({ seq: 0, hash: "0".repeat(64) });
      await db.audit.append(entry(userId));
      await db.audit.append(entry(userId));
      const [newest] = (await db.audit.list({ userId, limit: 1 })).items;
      expect(await db.audit.prepare(userId)).toEqual({ seq: 2, hash: newest!.hash });
    });
  });

  it("a sign-in with a fresh prepared tail links after it, and the chain verifies", async () => {
    // On Postgres the entry is hashed in JS here (values), its neighbours by sha256() in SQL: the
    // same bytes, or verification fails.
    const userId = await newUser();
    await withDb(async (db) => {
      await db.audit.append(entry(userId, "login_failed"));
      await db.sessions.create(session(userId), entry(userId), prepared(db, userId));
      await db.audit.append(entry(userId, "logout"));
    });
    await expectUnforked(userId, 3);
    expect((await auditEntries(userId)).find((e) => e.seq === 2)).toMatchObject({
      action: "login_succeeded",
    });
  });

  it("a stale prepared tail (another writer went first) is retried from a fresh read, never forked", async () => {
    const userId = await newUser();
    await withDb(async (db) => {
      await db.audit.append(entry(userId, "login_failed"));
      const ahead = prepared(db, userId);
      await ahead.tail;
      // Between the read and the write, two other events of the same user land (seq 2 and 3).
      await db.audit.append(entry(userId, "login_failed"));
      await db.audit.append(entry(userId, "login_failed"));
      await db.sessions.create(session(userId), entry(userId), ahead);
    });
    await expectUnforked(userId, 4);
    const newest = (await auditEntries(userId))[0]!;
    expect(newest).toMatchObject({ action: "login_succeeded", seq: 4 });
  });

  it("40 writers racing with the same stale prepared tail (sign-ins and appends) form one chain", async () => {
    const userId = await newUser();
    await withDb((db) => db.audit.append(entry(userId, "login_failed")));
    // Separate handles: on Postgres, separate connections racing for the same seq.
    const handles = Array.from({ length: 4 }, () => database());
    try {
      // Every writer read the tail (seq 1) ahead; then 5 more events make all of those reads stale.
      const aheads = handles.map((h) => prepared(h, userId));
      await Promise.all(aheads.map((a) => a.tail));
      for (let i = 0; i < 5; i++) await handles[0]!.audit.append(entry(userId, "login_failed"));
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const db = handles[i % handles.length]!;
          const ahead = aheads[i % aheads.length]!;
          return i % 2 === 0
            ? db.sessions.create(session(userId), entry(userId), ahead)
            : db.audit.append(entry(userId, "login_failed"), ahead);
        }),
      );
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
    await expectUnforked(userId, 46);
  });

  it("a tail prepared for another user's chain is not used: the entry links into its own chain", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    await withDb(async (db) => {
      for (let i = 0; i < 3; i++) await db.audit.append(entry(alice, "login_failed"));
      await db.audit.append(entry(bob, "login_failed"));
      await db.sessions.create(session(bob), entry(bob), prepared(db, alice));
      await db.audit.append(entry(bob, "login_failed"), prepared(db, alice));
    });
    await expectUnforked(alice, 3);
    await expectUnforked(bob, 3);
  });

  it("a prepared tail that failed to read (null) falls back to reading at write time", async () => {
    const userId = await newUser();
    await withDb(async (db) => {
      await db.audit.append(entry(userId, "login_failed"));
      await db.sessions.create(session(userId), entry(userId), {
        chain: chainOf(userId),
        tail: Promise.resolve(null),
      });
    });
    await expectUnforked(userId, 2);
  });
});
