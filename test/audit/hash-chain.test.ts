import { describe, expect, it } from "vitest";
import { entryHash, GENESIS_HASH, personalDigest } from "../../src/audit/chain";
import { verifyAuditLog } from "../../src/audit/verify";
import { newId } from "../../src/lib/crypto";
import type { NewAuditEntry } from "../../src/storage/types";
import { auditEntries, createVerifiedUser, database, testClient, withDb } from "../helpers";
import { rawSql } from "../support/raw-sql";
import { createAdmin } from "../users/admin-helpers";

const DAY = 24 * 60 * 60 * 1000;

function entry(userId: string | null, at: Date, action = "login_failed"): NewAuditEntry {
  return {
    id: newId(),
    userId,
    action,
    ip: "198.51.100.7",
    userAgent: "vitest",
    createdAt: at,
    metadata: { reason: "bad_password", nested: { b: 2, a: [1, "x"] } },
  };
}

/** `n` entries for `userId`, one after another, a second apart from `start`; their ids in chain order. */
async function seedChain(userId: string | null, n: number, start = new Date()): Promise<string[]> {
  return withDb(async (db) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = entry(userId, new Date(start.getTime() + i * 1000));
      await db.audit.append(e);
      ids.push(e.id);
    }
    return ids;
  });
}

const verify = (userId?: string) =>
  withDb((db) => verifyAuditLog(db.audit, userId === undefined ? { pageSize: 7 } : { userId, pageSize: 7 }));

describe("audit hash chain: parallel writers", () => {
  it("50 parallel events for one user (appends, sign-ins, rotations) form one unforked chain", async () => {
    const userId = (await withDb((db) =>
      db.users.create({
        id: newId(),
        email: `chain-${newId()}@example.test`,
        fullName: null,
        passwordHash: null,
        role: "user",
        isVerified: true,
        now: new Date(),
      }),
    ))!.id;
    // Sessions to rotate, made before the race (their sign-in entries are chained too).
    const setup = database();
    const refreshHashes: string[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const refreshHash = `rt-${newId()}`;
        await setup.sessions.create(
          {
            id: newId(),
            userId,
            refreshHash,
            expiresAt: new Date(Date.now() + DAY),
            ip: null,
            userAgent: null,
            now: new Date(),
          },
          entry(userId, new Date(), "login_succeeded"),
        );
        refreshHashes.push(refreshHash);
      }
    } finally {
      await setup.close();
    }

    // Separate handles: on Postgres, separate connections racing for the same seq.
    const handles = Array.from({ length: 5 }, () => database());
    try {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const db = handles[i % handles.length]!;
          if (i < 30) return db.audit.append(entry(userId, new Date()));
          if (i < 40) {
            return db.sessions.create(
              {
                id: newId(),
                userId,
                refreshHash: `rt-${newId()}`,
                expiresAt: new Date(Date.now() + DAY),
                ip: null,
                userAgent: null,
                now: new Date(),
              },
              entry(userId, new Date(), "login_succeeded"),
            );
          }
          const { userId: _owner, ...rotation } = entry(userId, new Date(), "token_refreshed");
          return db.sessions
            .rotate(refreshHashes[i - 40]!, `next-${newId()}`, new Date(), 10_000, rotation)
            .then((r) => {
              expect(r.kind).toBe("rotated");
            });
        }),
      );
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }

    const rows = await auditEntries(userId);
    expect(rows).toHaveLength(60);
    expect(rows.map((r) => r.seq).sort((a, b) => a! - b!)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    expect(rows.filter((r) => r.action === "token_refreshed")).toHaveLength(10);
    expect(await verify(userId)).toEqual({ ok: true, checked: 60 });
  });
});

describe("audit hash chain: tampering is detected", () => {
  it("a clean chain verifies; entries without a user form their own chain", async () => {
    const userId = newId();
    await seedChain(userId, 10);
    await seedChain(null, 3);
    expect(await verify(userId)).toEqual({ ok: true, checked: 10 });
    const all = await verify();
    expect(all.ok).toBe(true);
    expect(all.checked).toBeGreaterThanOrEqual(13);
    const [first] = await rawSql(
      "select prev_hash, seq from audit_log where chain = ? order by seq limit 1",
      [""],
    );
    expect(first).toMatchObject({ prev_hash: GENESIS_HASH });
  });

  it("an edited field fails at that entry", async () => {
    const userId = newId();
    const ids = await seedChain(userId, 10);
    await rawSql("update audit_log set action = 'login_succeeded' where id = ?", [ids[4]]);
    expect(await verify(userId)).toEqual({ ok: false, checked: 4, firstBadId: ids[4] });
    expect(await verify()).toMatchObject({ ok: false, firstBadId: ids[4] });
  });

  it("an edited entry whose hash was recomputed fails at the next entry", async () => {
    const userId = newId();
    const ids = await seedChain(userId, 6);
    const [row] = (await auditEntries(userId)).filter((e) => e.id === ids[2]);
    // A thorough forger: the new IP, its digest under the row's salt, and the hash over that digest.
    const forged = { ...row!, ip: "203.0.113.66" };
    forged.personalDigest = personalDigest(row!.personalSalt!, forged.ip, forged.userAgent);
    await rawSql("update audit_log set ip = ?, personal_digest = ?, hash = ? where id = ?", [
      forged.ip,
      forged.personalDigest,
      entryHash(row!.prevHash!, forged, row!.seq!),
      ids[2],
    ]);
    expect(await verify(userId)).toEqual({ ok: false, checked: 3, firstBadId: ids[3] });
  });

  it("a deleted entry fails at its successor, the first one too", async () => {
    const userId = newId();
    const ids = await seedChain(userId, 6);
    await rawSql("delete from audit_log where id = ?", [ids[3]]);
    expect(await verify(userId)).toMatchObject({ ok: false, firstBadId: ids[4] });
    await rawSql("delete from audit_log where id = ?", [ids[0]]);
    expect(await verify(userId)).toMatchObject({ ok: false, checked: 0, firstBadId: ids[1] });
  });

  it("an inserted entry fails, with a made-up hash or with none", async () => {
    const userId = newId();
    await seedChain(userId, 3);
    const forgedId = newId();
    const createdAt = (await isPostgres()) ? new Date().toISOString() : Date.now();
    await rawSql(
      "insert into audit_log (id, user_id, action, created_at, metadata, chain, seq, prev_hash, hash) values (?, ?, 'logout', ?, '{}', ?, 4, ?, ?)",
      [forgedId, userId, createdAt, userId, "f".repeat(64), "e".repeat(64)],
    );
    expect(await verify(userId)).toEqual({ ok: false, checked: 3, firstBadId: forgedId });
    await rawSql("delete from audit_log where id = ?", [forgedId]);
    expect(await verify(userId)).toEqual({ ok: true, checked: 3 });

    const unchained = newId();
    await rawSql(
      "insert into audit_log (id, user_id, action, created_at, metadata) values (?, ?, 'logout', ?, '{}')",
      [unchained, userId, createdAt],
    );
    expect(await verify(userId)).toEqual({ ok: false, checked: 3, firstBadId: unchained });
  });
});

async function isPostgres(): Promise<boolean> {
  return withDb(async (db) => db.kind === "postgres");
}

describe("audit hash chain: retention", () => {
  it("keeps the last deleted hash as the anchor: verification passes after a purge and new entries link to it", async () => {
    const userId = newId();
    const start = new Date(Date.now() - 10 * DAY);
    const ids = await seedChain(userId, 8, start);
    const hashes = new Map((await auditEntries(userId)).map((e) => [e.id, e.hash]));
    // Entries 0..4 are older than the cutoff.
    const cutoff = new Date(start.getTime() + 4500);
    expect(await withDb((db) => db.audit.deleteOlderThan(cutoff))).toBeGreaterThanOrEqual(5);
    expect((await auditEntries(userId)).map((e) => e.id).sort()).toEqual(ids.slice(5).sort());
    expect(await rawSql("select seq, hash from audit_anchors where chain = ?", [userId])).toEqual([
      { seq: 5, hash: hashes.get(ids[4]!) },
    ]);
    expect(await verify(userId)).toEqual({ ok: true, checked: 3 });

    await seedChain(userId, 2);
    expect(await verify(userId)).toEqual({ ok: true, checked: 5 });
    // A second purge that removes everything: the anchor moves; the next entry still links.
    await withDb((db) => db.audit.deleteOlderThan(new Date(Date.now() + DAY)));
    expect(await auditEntries(userId)).toEqual([]);
    await seedChain(userId, 1);
    expect(await verify(userId)).toEqual({ ok: true, checked: 1 });
    expect((await auditEntries(userId))[0]).toMatchObject({ seq: 11 });

    // Deleting below the anchor's successor is still caught.
    await seedChain(userId, 2);
    const [oldest] = (await auditEntries(userId)).filter((e) => e.seq === 11);
    await rawSql("delete from audit_log where id = ?", [oldest!.id]);
    expect(await verify(userId)).toMatchObject({ ok: false, checked: 0 });
    // D1 keeps rows across this file's tests: leave no broken chain for the route test's full walk.
    await rawSql("delete from audit_log where chain = ?", [userId]);
  });
});

describe("GET /audit/verify", () => {
  it("is for admins: 200 with the verdict, 403 for a user, 401 without a token, 422 on a bad user_id", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    const token = admin.tokens.access_token;

    const ok = await client.call("GET", `/audit/verify?user_id=${user.id}`, { token });
    expect(ok.status).toBe(200);
    // register, email_verified, login_succeeded.
    expect(ok.body).toEqual({ ok: true, checked: 3 });
    const all = await client.call("GET", "/audit/verify", { token });
    expect(all.status).toBe(200);
    expect(all.body.ok).toBe(true);

    const [verified] = (await auditEntries(user.id)).filter((e) => e.action === "email_verified");
    await rawSql("update audit_log set metadata = ? where id = ?", ['{"x":1}', verified!.id]);
    const bad = await client.call("GET", `/audit/verify?user_id=${user.id}`, { token });
    expect(bad.status).toBe(200);
    expect(bad.body).toEqual({ ok: false, checked: 1, first_bad_id: verified!.id });

    expect((await client.call("GET", "/audit/verify", { token: user.tokens.access_token })).status).toBe(403);
    expect((await client.call("GET", "/audit/verify")).status).toBe(401);
    expect((await client.call("GET", `/audit/verify?user_id=${"x".repeat(65)}`, { token })).status).toBe(422);
  });
});
