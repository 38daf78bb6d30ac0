import { newId } from "../../src/lib/crypto";
import type { NewAuditEntry, User } from "../../src/storage/types";
import { createVerifiedUser, database, type TestClient, type TestUser } from "../helpers";

/** A verified user promoted in the database, as `npm run admin -- promote` would do. */
export async function createAdmin(client: TestClient): Promise<TestUser> {
  const user = await createVerifiedUser(client);
  await setRole(user.id, "admin");
  return user;
}

export async function setRole(userId: string, role: "user" | "admin"): Promise<void> {
  const db = database();
  try {
    await db.users.update(userId, { role }, new Date());
  } finally {
    await db.close();
  }
}

/** Users inserted through the repository (no scrypt per user), for pagination tests. */
export async function seedUsers(emails: string[], at: (i: number) => Date): Promise<User[]> {
  const db = database();
  try {
    const out: User[] = [];
    for (const [i, email] of emails.entries()) {
      const user = await db.users.create({
        id: newId(),
        email,
        fullName: null,
        passwordHash: null,
        role: "user",
        isVerified: true,
        now: at(i),
      });
      if (!user) throw new Error(`seed failed: ${email}`);
      out.push(user);
    }
    return out;
  } finally {
    await db.close();
  }
}

export async function seedAudit(
  entries: { userId: string | null; action: string; at: Date; metadata?: Record<string, unknown> }[],
): Promise<NewAuditEntry[]> {
  const db = database();
  try {
    const out: NewAuditEntry[] = [];
    for (const e of entries) {
      const entry: NewAuditEntry = {
        id: newId(),
        userId: e.userId,
        action: e.action,
        ip: "203.0.113.9",
        userAgent: "seed",
        createdAt: e.at,
        metadata: e.metadata ?? {},
      };
      await db.audit.append(entry);
      out.push(entry);
    }
    return out;
  } finally {
    await db.close();
  }
}

/** Follows next_cursor to the end; returns every page's ids in order. */
export async function walk(
  client: TestClient,
  path: string,
  token: string,
): Promise<{ pages: string[][]; ids: string[] }> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 50; guard++) {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path;
    const res = await client.call("GET", url, { token });
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${res.text}`);
    pages.push(res.body.items.map((i: { id: string }) => i.id));
    cursor = res.body.next_cursor;
    if (cursor === null) break;
  }
  return { pages, ids: pages.flat() };
}
