// On D1 a sign-in's chain tail is read ahead (AuditRepository.prepare, while the password hashes), so
// the session write itself is one round trip: these tests count the statements D1 receives.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chainOf } from "../../src/audit/chain";
import { newId } from "../../src/lib/crypto";
import { openD1 } from "../../src/storage/d1";
import type { Database, NewAuditEntry, NewSession } from "../../src/storage/types";

/** The D1 binding, with every statement it is asked to prepare recorded. */
function countingD1(): { db: Database; statements: string[] } {
  const statements: string[] = [];
  const binding = new Proxy(env.DB, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property === "prepare") {
        return (query: string) => {
          statements.push(query);
          return target.prepare(query);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: openD1(binding), statements };
}

const isTailRead = (query: string): boolean => query.includes("audit_anchors") && query.startsWith("select");

function signIn(userId: string): { session: NewSession; audit: NewAuditEntry } {
  const now = new Date();
  return {
    session: {
      id: newId(),
      userId,
      refreshHash: `rt-${newId()}`,
      expiresAt: new Date(now.getTime() + 86_400_000),
      ip: null,
      userAgent: null,
      now,
    },
    audit: {
      id: newId(),
      userId,
      action: "login_succeeded",
      ip: "198.51.100.7",
      userAgent: "vitest",
      createdAt: now,
      metadata: {},
    },
  };
}

async function newUser(db: Database): Promise<string> {
  const user = await db.users.create({
    id: newId(),
    email: `tail-${newId()}@example.test`,
    fullName: null,
    passwordHash: null,
    role: "user",
    isVerified: true,
    now: new Date(),
  });
  return user!.id;
}

describe("D1 sign-in write with a prepared chain tail", () => {
  it("reads no tail when one was prepared, and links to it", async () => {
    const { db, statements } = countingD1();
    const userId = await newUser(db);
    await db.audit.append({ ...signIn(userId).audit, action: "login_failed" });
    const tail = db.audit.prepare(userId);
    expect(await tail).toMatchObject({ seq: 1 });
    statements.length = 0;
    const { session, audit } = signIn(userId);
    await db.sessions.create(session, audit, { chain: chainOf(userId), tail });
    expect(statements.filter(isTailRead)).toEqual([]);
    const [newest] = (await db.audit.list({ userId, limit: 1 })).items;
    expect(newest).toMatchObject({ id: audit.id, seq: 2, prevHash: (await tail)!.hash });
  });

  it("without one, the write reads the tail first (one more round trip)", async () => {
    const { db, statements } = countingD1();
    const userId = await newUser(db);
    statements.length = 0;
    const { session, audit } = signIn(userId);
    await db.sessions.create(session, audit);
    expect(statements.filter(isTailRead)).toHaveLength(1);
  });

  it("a stale prepared tail costs one fresh read, then the write lands after the real tail", async () => {
    const { db, statements } = countingD1();
    const userId = await newUser(db);
    const tail = db.audit.prepare(userId);
    await tail;
    await db.audit.append({ ...signIn(userId).audit, action: "login_failed" });
    statements.length = 0;
    const { session, audit } = signIn(userId);
    await db.sessions.create(session, audit, { chain: chainOf(userId), tail });
    expect(statements.filter(isTailRead)).toHaveLength(1);
    const [newest] = (await db.audit.list({ userId, limit: 1 })).items;
    expect(newest).toMatchObject({ id: audit.id, seq: 2 });
  });
});
