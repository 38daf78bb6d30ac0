import { describe, expect, it, vi } from "vitest";
import { verifyAuditLog } from "../../src/audit/verify";
import type { PasswordHasher } from "../../src/auth/password";
import { newId } from "../../src/lib/crypto";
import { SqlAuditRepository } from "../../src/storage/sql/audit";
import { auditEntries, createVerifiedUser, database, PASSWORD, testClient } from "../helpers";
import { testHasher } from "../support/test-hasher";

// A password sign-in reads its user's chain tail while the password hashes and writes the
// login_succeeded entry after it. Here other events of the same user land during the hash, so the tail
// read ahead is stale when the session is written: the sign-in must still succeed, after them.

/** The test hasher, but every verification lets `during` write first (as a parallel request would). */
function hasherWith(during: () => Promise<void>): PasswordHasher {
  return {
    ...testHasher,
    async verify(password, stored) {
      const result = await testHasher.verify(password, stored);
      await during();
      return result;
    },
  };
}

async function appendFor(userId: string): Promise<void> {
  const db = database();
  try {
    await db.audit.append({
      id: newId(),
      userId,
      action: "login_failed",
      ip: "198.51.100.9",
      userAgent: "elsewhere",
      createdAt: new Date(),
      metadata: { reason: "bad_password", method: "password" },
    });
  } finally {
    await db.close();
  }
}

async function expectUnforked(userId: string, n: number): Promise<void> {
  const rows = await auditEntries(userId);
  expect(rows.map((r) => r.seq).sort((a, b) => a! - b!)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  const db = database();
  try {
    expect(await verifyAuditLog(db.audit, { userId })).toEqual({ ok: true, checked: n });
  } finally {
    await db.close();
  }
}

describe("password sign-in: the chain tail read during the hash", () => {
  it("an event written while the password hashed comes before the sign-in's entry", async () => {
    let userId = "";
    const client = testClient({
      passwords: hasherWith(() => (userId ? appendFor(userId) : Promise.resolve())),
    });
    const user = await createVerifiedUser(testClient());
    const before = (await auditEntries(user.id)).length;
    userId = user.id;
    const prepare = vi.spyOn(SqlAuditRepository.prototype, "prepare");
    let res: Awaited<ReturnType<typeof client.call>>;
    try {
      res = await client.call("POST", "/auth/login", { json: { email: user.email, password: PASSWORD } });
      // The tail was asked for once, for this user, before the write (and went stale: the retry reads).
      expect(prepare.mock.calls).toEqual([[user.id]]);
    } finally {
      prepare.mockRestore();
    }
    expect(res.status).toBe(200);
    const [newest, interleaved] = await auditEntries(user.id);
    expect(newest).toMatchObject({ action: "login_succeeded", seq: before + 2 });
    expect(interleaved).toMatchObject({ action: "login_failed", userAgent: "elsewhere", seq: before + 1 });
    await expectUnforked(user.id, before + 2);
  });

  it("6 parallel sign-ins of one user, each overtaken during its hash, and 2 wrong passwords: one chain", async () => {
    let userId = "";
    const client = testClient({
      passwords: hasherWith(() => (userId ? appendFor(userId) : Promise.resolve())),
    });
    const user = await createVerifiedUser(testClient());
    const earlier = await auditEntries(user.id);
    const before = earlier.length;
    const succeeded = (rows: { action: string }[]) =>
      rows.filter((r) => r.action === "login_succeeded").length;
    userId = user.id;
    const results = await Promise.all(
      // 8 attempts: under the per-address throttle (THROTTLE_AFTER), which would answer 429.
      Array.from({ length: 8 }, (_, i) =>
        client.call("POST", "/auth/login", {
          json: { email: user.email, password: i % 4 === 3 ? "not-the-password" : PASSWORD },
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([...Array(6).fill(200), ...Array(2).fill(401)]);
    // The refusals' own login_failed entries are written after the answer (waitUntil): wait for them.
    const expected = before + 8 + 6 + 2;
    for (let i = 0; i < 50 && (await auditEntries(user.id)).length < expected; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows = await auditEntries(user.id);
    expect(succeeded(rows)).toBe(succeeded(earlier) + 6);
    await expectUnforked(user.id, expected);
  });
});
